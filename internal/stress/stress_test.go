package stress

import "testing"

func TestCheck(t *testing.T) {
	v := Value("db", 7)
	if !Check("db", v) {
		t.Fatalf("Check refuses its own value %q", v)
	}
	for _, bad := range []string{v[:len(v)-1], v[:20] + Value("db", 8)[20:], Value("dbx", 7), "", "db#"} {
		if Check("db", bad) {
			t.Errorf("Check accepts %q", bad)
		}
	}
}
