// Package deps pins the project's direct dependencies while the packages
// that use them are written.
package deps

import (
	_ "github.com/creack/pty"
	_ "github.com/dop251/goja"
	_ "github.com/dop251/goja_nodejs/console"
	_ "github.com/dop251/goja_nodejs/eventloop"
	_ "github.com/dop251/goja_nodejs/require"
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/extism/go-sdk"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/go-viper/mapstructure/v2"
	_ "github.com/knadh/koanf/parsers/yaml"
	_ "github.com/knadh/koanf/providers/confmap"
	_ "github.com/knadh/koanf/providers/env"
	_ "github.com/knadh/koanf/providers/file"
	_ "github.com/knadh/koanf/v2"
	_ "github.com/mdp/qrterminal/v3"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "github.com/tetratelabs/wazero"
	_ "github.com/valyala/fasthttp"
	_ "github.com/valyala/fasthttp/fasthttpadaptor"
)
