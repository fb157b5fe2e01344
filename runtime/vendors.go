package runtime

import (
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/bindings/wechat"
	"github.com/switchboard-dev/switchboard/bindings/wework"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// Registry builds the bindings registry for a configuration: every vendor
// with its endpoints, its client pointed at the configured base_url, its
// reply mapping and its callback normalizer.
func Registry(cfg *config.Config, hc *http.Client) (*bindings.Registry, error) {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	reg := bindings.NewRegistry()
	q := cfg.Vendors.Quntool
	for _, v := range []bindings.Vendor{
		quntool.Vendor(quntool.NewClient(quntool.Config{BaseURL: q.BaseURL, APIKey: q.APIKey, HTTP: hc, Timeout: ms(q.TimeoutMS)})),
		{Name: "wework", Normalize: wework.Normalize},
		{Name: "wechat", Normalize: wechat.Normalize},
	} {
		if err := reg.Add(v); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
