package pdk

import "testing"

const benchEvent = `{"id":"quntool:wxid_bot:message:srv-e","type":"message","vendor":"quntool","account":"wxid_bot","time":1700000000000,"received":1700000000100,"conversation":{"id":"S:wxid_alice","kind":"private"},"message":{"id":"srv-e","kind":"text","text":"ping","from":{"id":"wxid_alice","name":"Alice"},"self":false},"raw":{"type":"MT_RECV_TEXT_MSG","data":{"content":"ping","from_wxid":"wxid_alice"}}}   `

func BenchmarkDecodeEvent(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeEvent([]byte(benchEvent)); err != nil {
			b.Fatal(err)
		}
	}
}
