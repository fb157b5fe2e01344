package sim

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mqttClient starts the simulator's broker on a free local port and
// answers a connected client and the channel of its answers.
func mqttClient(t *testing.T, w *world) (paho.Client, chan map[string]any) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(testCtx(t))
	served := make(chan error, 1)
	go func() { served <- w.sim.ServeMQTT(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeMQTT: %v", err)
		}
	})

	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + ln.Addr().String()).
		SetClientID("switchboard-test").SetConnectTimeout(5 * time.Second).SetAutoReconnect(false))
	wait := func(what string, tok paho.Token) {
		t.Helper()
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s: %v", what, tok.Error())
		}
	}
	wait("connect", c.Connect())
	t.Cleanup(func() { c.Disconnect(100) })
	answers := make(chan map[string]any, 16)
	wait("subscribe", c.Subscribe(MQTTResponseTopic, 1, func(_ paho.Client, m paho.Message) {
		var a map[string]any
		if err := json.Unmarshal(m.Payload(), &a); err != nil {
			t.Errorf("answer %s is not JSON: %v", m.Payload(), err)
			return
		}
		answers <- a
	}))
	return c, answers
}

// TestMQTTSend sends over MQTT as the vendor's document shows, with the
// same limits as HTTP sends.
func TestMQTTSend(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	c, answers := mqttClient(t, w)
	ctx := testCtx(t)
	cases := []struct {
		name     string
		payload  string
		wantID   string
		wantCode float64
	}{
		{"text", `{"wxId":"` + acctA + `","conversationId":"` + convA1 + `","content":"你好啊","type":"text","id":"1234567"}`, "1234567", 0},
		{"too soon", `{"wxId":"` + acctA + `","conversationId":"` + convA1 + `","content":"again","type":"text","id":"2"}`, "2", CodeFrequency},
		{"unknown type", `{"wxId":"` + acctA + `","type":"quote","id":"3"}`, "3", CodeBadRequest},
		{"not JSON", `hello`, "", CodeBadRequest},
	}
	for _, tc := range cases {
		tok := c.Publish(MQTTSendTopic, 1, false, tc.payload)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s: publish: %v", tc.name, tok.Error())
		}
		var a map[string]any
		select {
		case a = <-answers:
		case <-ctx.Done():
			t.Fatalf("%s: no answer on %s", tc.name, MQTTResponseTopic)
		}
		code, _ := a["code"].(float64)
		if a["id"] != tc.wantID || code != tc.wantCode {
			t.Errorf("%s: answer %v, want id %q code %v", tc.name, a, tc.wantID, tc.wantCode)
		}
		if sent := w.sim.Sent(); tc.wantCode == 0 {
			if len(sent) != 1 || a["msgId"] != sent[0].MsgID || sent[0].Content != "你好啊" {
				t.Errorf("%s: answer %v, sent %+v", tc.name, a, sent)
			}
		} else if a["msgId"] != nil {
			t.Errorf("%s: a refused send answered msgId %v", tc.name, a["msgId"])
		}
	}
	if cb := w.rx.waitFor(t, ctx, "text_msg", 1); cb["sendMsgId"] != w.sim.Sent()[0].MsgID {
		t.Errorf("sent callback %v", cb)
	}
}
