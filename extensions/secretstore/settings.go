//go:build wasip1

package main

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

// The vault's parameters in vaults.toml:
//
//	authentication    "password" (default) or "none", in any case
//	password_timeout  seconds an unlock lasts, counted from the unlock
//	                  (reads do not extend it): 1 to 2147483, default 900;
//	                  -1 never expires (until lock, or the process ends).
//	                  0 is refused: a password used for a single call cannot
//	                  serve the calls after the unlock.
//
// Any other parameter is refused, so that a typo does not silently weaken
// the vault.
const (
	paramAuth    = "authentication"
	paramTimeout = "password_timeout"

	defaultTimeout = 900
	maxTimeout     = 2147483 // SecretStore's bound: Int32.MaxValue/1000
)

type authMode int

const (
	authPassword authMode = iota
	authNone
)

// settings are the parsed parameters.
type settings struct {
	auth authMode
	ttl  time.Duration // of the keyring slot; 0: never expires
}

// conf is set by Init on every instance, before any operation; all
// instances get the same parameters.
var conf = settings{auth: authPassword, ttl: defaultTimeout * time.Second}

func parseSettings(params map[string]string) (settings, error) {
	s := settings{auth: authPassword, ttl: defaultTimeout * time.Second}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := strings.TrimSpace(params[k])
		switch k {
		case paramAuth:
			switch strings.ToLower(v) {
			case "password":
				s.auth = authPassword
			case "none":
				s.auth = authNone
			default:
				return s, guest.Error(abi.InvalidArgument, "parameter "+paramAuth+" is "+strconv.Quote(v)+": want \"password\" or \"none\"")
			}
		case paramTimeout:
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				return s, guest.Error(abi.InvalidArgument, "parameter "+paramTimeout+" is "+strconv.Quote(v)+": want a whole number of seconds, or -1 for never")
			case n == -1:
				s.ttl = 0
			case n == 0:
				return s, guest.Error(abi.InvalidArgument, "parameter "+paramTimeout+" is 0: an unlock must last at least 1 second (use -1 for never)")
			case n < -1 || n > maxTimeout:
				return s, guest.Error(abi.InvalidArgument, "parameter "+paramTimeout+" is "+v+": want 1 to "+strconv.Itoa(maxTimeout)+" seconds, or -1 for never")
			default:
				s.ttl = time.Duration(n) * time.Second
			}
		default:
			return s, guest.Error(abi.InvalidArgument, "unknown parameter "+strconv.Quote(k)+" (secretstore knows "+paramAuth+" and "+paramTimeout+")")
		}
	}
	return s, nil
}
