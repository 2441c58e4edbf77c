package sandbox

import (
	"testing"

	"github.com/sesamehq/sesame/abi"
)

func TestEchoesHost(t *testing.T) {
	for _, tt := range []struct {
		msg  string
		s    abi.Status
		want bool
	}{
		{"sesame_v1.kv_set: too large", abi.TooLarge, true},
		{"sesame_v1.kv_delete: not found", abi.NotFound, true},
		{"sesame_v1.kv_set: too large", abi.Conflict, false}, // another status: the guest's own story
		{"sesame_v1.kv_set: too large, says the vault", abi.TooLarge, false},
		{"sesame_v1.: too large", abi.TooLarge, false},
		{"record is damaged", abi.Internal, false},
		{"", abi.Internal, false},
	} {
		if got := echoesHost(tt.msg, tt.s); got != tt.want {
			t.Errorf("echoesHost(%q, %v) = %v, want %v", tt.msg, tt.s, got, tt.want)
		}
	}
}
