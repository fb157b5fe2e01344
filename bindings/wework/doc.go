// Package wework is the binding for the instance based WeCom (企业微信)
// protocol API: every logged-in account lives in an instance named by its
// guid, requests are JSON POSTs that carry the guid, and everything that
// happens to the account is pushed to the runtime as callbacks of the shape
// {"guid", "notify_type", "data"}.
//
// Normalize turns those callbacks into events (SPEC §3), driven by a table
// of the vendor's notify types. Everything in this package is immutable
// package data or safe for concurrent use.
package wework
