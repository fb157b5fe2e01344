// Package wechat is the binding for the instance based WeChat protocol SaaS
// API: every logged-in account lives in an instance named by its guid,
// requests are JSON POSTs answered with {code, message, data}, and
// everything that happens to the account is pushed to the runtime as
// callbacks of the shape {"guid", "notify_type", "data"}.
//
// Normalize turns those callbacks into events (SPEC §3), driven by two
// tables: notify types to event types, and WeChat message types to message
// kinds. Everything in this package is immutable package data or safe for
// concurrent use.
package wechat
