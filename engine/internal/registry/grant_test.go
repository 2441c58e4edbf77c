package registry

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseGrant(t *testing.T) {
	var g Grants
	for _, kv := range [][2]string{
		{"storage", "true"}, {"directory", "d"}, {"read_only", "1"}, {"env", "B, A,,B"},
		{"memory", " 2 MiB "}, {"timeout", "1m30s"}, {"instances", "3"}, {"identity", "true"},
	} {
		if err := ParseGrant(&g, kv[0], kv[1]); err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
	want := Grants{Storage: true, Directory: "d", ReadOnly: true, Env: []string{"A", "B"}, Memory: 2 << 20, Timeout: 90 * time.Second, Instances: 3, Identity: true}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("got %+v, want %+v", g, want)
	}
	for size, n := range map[string]uint64{"64MiB": 64 << 20, "1GiB": 1 << 30, "4096KiB": 4 << 20, "2097152": 2 << 20, "4194304B": 4 << 20} {
		if err := ParseGrant(&g, "memory", size); err != nil || g.Memory != n {
			t.Errorf("memory=%s: %d, %v; want %d", size, g.Memory, err, n)
		}
	}
	for _, kv := range [][2]string{
		{"storage", "yes please"}, {"memory", "64MB"}, {"memory", "1MiB"}, {"memory", "5GiB"}, {"memory", "1.5MiB"},
		{"memory", "99999999999GiB"}, {"timeout", "-1s"}, {"timeout", "11m"}, {"instances", "0"}, {"instances", "x"},
		{"directory", ""}, {"network", "true"}, {"identity", "maybe"},
	} {
		if err := ParseGrant(&g, kv[0], kv[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s=%q: err = %v, want ErrInvalid", kv[0], kv[1], err)
		}
	}
}
