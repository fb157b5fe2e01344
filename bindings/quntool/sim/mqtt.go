package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The vendor's MQTT sending: a message published to MQTTSendTopic is sent
// like the HTTP send of its "type", and the outcome is published to
// MQTTResponseTopic. The vendor's broker listens on port 1884.
const (
	MQTTSendTopic     = "SendMessage"
	MQTTResponseTopic = "SendMessageResp"
	DefaultMQTTPort   = 1884
)

// mqttKinds are the "type" values the vendor accepts over MQTT.
var mqttKinds = map[string]*sendKind{
	"text":        kindText,
	"image":       kindImage,
	"personcard":  kindPersonCard,
	"link":        kindLink,
	"file":        kindFile,
	"video":       kindVideo,
	"miniprogram": kindMiniProgram,
	"roomat":      kindRoomAt,
	"gif":         kindGIF,
	"videonum":    kindVideoNum,
}

// mqttResponse is published for every message on MQTTSendTopic: id is the
// sender's own id for matching, msgId the send's (as the HTTP send answers
// it). The vendor documents only those two; a refused send also carries
// the envelope's code and msg, and a null msgId.
type mqttResponse struct {
	ID    string  `json:"id"`
	MsgID *string `json:"msgId"`
	Code  int     `json:"code,omitempty"`
	Msg   string  `json:"msg,omitempty"`
}

// ServeMQTT runs an MQTT broker on ln, as the vendor's on port 1884: a
// client publishes a send to MQTTSendTopic as the JSON of the HTTP send
// with "type" (text, image, personCard, link, file, video, miniProgram,
// roomAt, gif, videoNum) and "id" (its own, to match the answer) added,
// and receives {"id", "msgId"} on MQTTResponseTopic. Sends go through the
// same checks, limits, records and callbacks as HTTP sends. Any client may
// connect. ServeMQTT returns when ctx ends (closing the broker and ln) or
// the broker cannot start.
func (s *Sim) ServeMQTT(ctx context.Context, ln net.Listener) error {
	server := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slogFor(s.log.Named("mqtt"))})
	if err := server.AddHook(new(allowAll), nil); err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	if err := server.AddListener(listeners.NewNet("quntool-sim", ln)); err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	err := server.Subscribe(MQTTSendTopic, 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		answer, err := json.Marshal(s.mqttSend(pk.Payload))
		if err != nil {
			s.log.Error("mqtt answer not encoded", "error", err)
			return
		}
		// Published from its own goroutine: the broker is inside its
		// delivery of the send here.
		go func() {
			if err := server.Publish(MQTTResponseTopic, answer, false, 0); err != nil {
				s.log.Error("mqtt answer not published", "error", err)
			}
		}()
	})
	if err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	if err := server.Serve(); err != nil {
		_ = server.Close()
		return fmt.Errorf("mqtt broker: %w", err)
	}
	s.log.Info("mqtt broker listening", "address", ln.Addr().String())
	<-ctx.Done()
	if err := server.Close(); err != nil {
		return fmt.Errorf("close mqtt broker: %w", err)
	}
	return nil
}

// mqttSend carries out one MQTT send and answers what to publish.
func (s *Sim) mqttSend(payload []byte) mqttResponse {
	f, err := decodeFields(payload, "the message")
	if err != nil {
		return refused("", err)
	}
	id := f.str("id")
	kind := mqttKinds[strings.ToLower(f.str("type"))]
	if kind == nil {
		return mqttResponse{ID: id, Code: CodeBadRequest,
			Msg: fmt.Sprintf("type %q is not one of text, image, personCard, link, file, video, miniProgram, roomAt, gif, videoNum", f.str("type"))}
	}
	s.mu.Lock()
	data, err := s.send(&request{f: f, now: s.now()}, kind)
	s.mu.Unlock()
	if err != nil {
		return refused(id, err)
	}
	msgID := data.(map[string]any)["msgId"].(string)
	return mqttResponse{ID: id, MsgID: &msgID}
}

func refused(id string, err error) mqttResponse {
	var ae *apiError
	if errors.As(err, &ae) {
		return mqttResponse{ID: id, Code: ae.code, Msg: ae.msg}
	}
	return mqttResponse{ID: id, Code: CodeFailed, Msg: err.Error()}
}

// allowAll lets every client connect, publish and subscribe: the vendor
// documents no MQTT authentication.
type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "allow-all" }

func (*allowAll) Provides(b byte) bool {
	return slices.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, b)
}

func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// slogFor hands the broker's log to the simulator's logger.
func slogFor(log hclog.Logger) *slog.Logger {
	w := log.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
