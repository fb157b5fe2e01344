package runtime

import (
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/msgserver"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/bindings/wechat"
	"github.com/switchboard-dev/switchboard/bindings/wework"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// vendorSet is the bindings registry and what the runtime owns with it.
type vendorSet struct {
	reg       *bindings.Registry
	msgserver *msgserver.Client
	// close releases the connections the clients hold (the quntool MQTT
	// connection); never nil.
	close func()
}

// Registry builds the bindings registry for a configuration: every vendor
// with its endpoints, its client pointed at the configured base_url, its
// reply mapping and its callback normalizer. Quntool sends go over HTTP
// whatever vendors.quntool.transport says: the registry is for describing,
// checking and replaying; the running runtime connects MQTT itself.
func Registry(cfg *config.Config, hc *http.Client) (*bindings.Registry, error) {
	vs, err := buildVendors(cfg, hc, false)
	if err != nil {
		return nil, err
	}
	return vs.reg, nil
}

// buildVendors builds the registry; with connect, quntool sends use the
// configured transport (an MQTT connection is made now).
func buildVendors(cfg *config.Config, hc *http.Client, connect bool) (*vendorSet, error) {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	vs := &vendorSet{reg: bindings.NewRegistry(), close: func() {}}

	q := cfg.Vendors.Quntool
	qhttp := quntool.NewClient(quntool.Config{BaseURL: q.BaseURL, APIKey: q.APIKey, HTTP: hc, Timeout: ms(q.TimeoutMS)})
	var qclient bindings.Client = qhttp
	if connect && q.Transport == "mqtt" {
		mc, err := quntool.NewMQTTClient(quntool.MQTTConfig{
			URL: q.MQTTURL, Username: q.MQTTUsername, Password: q.MQTTPassword, Timeout: ms(q.TimeoutMS), HTTP: qhttp,
		})
		if err != nil {
			return nil, fmt.Errorf("vendors.quntool.mqtt_url: %w", err)
		}
		qclient = mc
		vs.close = func() { _ = mc.Close() }
	}
	enc, err := msgserver.ParseEncoding(cfg.Vendors.Msgserver.SignatureEncoding)
	if err != nil {
		vs.close()
		return nil, fmt.Errorf("vendors.msgserver.signature_encoding: %w", err)
	}
	m := cfg.Vendors.Msgserver
	vs.msgserver, err = msgserver.NewClient(msgserver.Config{BaseURL: m.BaseURL, Secret: m.Secret, Encoding: enc, HTTP: hc, Timeout: ms(m.TimeoutMS)})
	if err != nil {
		vs.close()
		return nil, fmt.Errorf("vendors.msgserver: %w", err)
	}
	for _, v := range []bindings.Vendor{
		quntool.Vendor(qclient),
		wework.Vendor(wework.NewClient(wework.Config{BaseURL: cfg.Vendors.Wework.BaseURL, HTTP: hc, Timeout: ms(cfg.Vendors.Wework.TimeoutMS)})),
		wechat.Vendor(wechat.NewClient(wechat.Config{BaseURL: cfg.Vendors.Wechat.BaseURL, HTTP: hc, Timeout: ms(cfg.Vendors.Wechat.TimeoutMS)})),
		msgserver.Vendor(vs.msgserver),
	} {
		if err := vs.reg.Add(v); err != nil {
			vs.close()
			return nil, err
		}
	}
	return vs, nil
}
