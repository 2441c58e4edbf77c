package cli

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"set", "get", "info", "set-info", "remove", "register", "unregister", "list"}
	for _, tt := range []struct{ typed, want string }{
		{"gte", "get"},   // a swap
		{"lsit", "list"}, // a swap
		{"unregistr", "unregister"},
		{"reg", "register"}, // the only name it begins
		{"se", "set"},       // begins two names; one edit from set
		{"st", "set"},       // one edit: set
		{"bogus", ""},
		{"", ""},
		{"infoo", "info"},
	} {
		if got := closest(tt.typed, names); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
}
