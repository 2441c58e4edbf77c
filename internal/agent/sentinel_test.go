package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/api"
)

// failing is a call that fails with Code, wrapped as an operation of the
// engine wraps a sentinel, beside a foreign error.
type failing struct{ Code engine.Code }

func (failing) Op() engine.Op { return "fail" }

func (f failing) Run(context.Context, api.Engine) (any, error) {
	return nil, &engine.Error{Op: engine.OpGet, Vault: "V", Secret: "s", Err: errors.Join(fmt.Errorf("%w: detail", f.Code), context.Canceled)}
}

func init() { testWireTypes = append(testWireTypes, failing{}) }

// TestSentinelsCrossAgent: every sentinel of engine.Codes, failing a call
// in a real agent, reaches the client as itself (errors.Is), with the
// message and the *engine.Error it has in process.
func TestSentinelsCrossAgent(t *testing.T) {
	ctx := context.Background()
	r := newFiles(t).remote(t, serve(t, NewServer(testEngines)).dial(t))
	for _, code := range engine.Codes() {
		t.Run(code.Error(), func(t *testing.T) {
			_, want := failing{code}.Run(ctx, nil)
			_, got := r.Do(ctx, failing{code})
			if got == nil || got.Error() != want.Error() {
				t.Fatalf("through the agent: %v; in process: %v", got, want)
			}
			for _, other := range engine.Codes() {
				if errors.Is(got, other) != (other == code) {
					t.Errorf("errors.Is(err, %q) = %v through the agent", other, errors.Is(got, other))
				}
			}
			var ee *engine.Error
			if !errors.Is(got, context.Canceled) || !errors.As(got, &ee) || ee.Op != engine.OpGet || ee.Vault != "V" || ee.Secret != "s" {
				t.Errorf("the error's other parts did not cross: %#v", got)
			}
		})
	}
}

// grantsRefusal is an error that names missing grants, as the sandbox's
// refusal to load an extension does.
type grantsRefusal struct{ grants []string }

func (g grantsRefusal) Error() string           { return "manifest: needs grants" }
func (g grantsRefusal) MissingGrants() []string { return g.grants }

// refusing fails with a grants refusal beside an error whose text only
// claims one, as a guest's message may.
type refusing struct{}

func (refusing) Op() engine.Op { return "refuse" }

func (refusing) Run(context.Context, api.Engine) (any, error) {
	claim := errors.New(`needs grant "directory", which vaults.toml does not give`)
	return nil, &engine.Error{Op: engine.OpGet, Vault: "V", Err: errors.Join(claim, grantsRefusal{[]string{"storage", "http"}})}
}

func init() { testWireTypes = append(testWireTypes, refusing{}) }

// TestMissingGrantsCrossAgent: the grants a refusal names reach the client
// as grants, not as text to search: a message that only says so names none.
func TestMissingGrantsCrossAgent(t *testing.T) {
	r := newFiles(t).remote(t, serve(t, NewServer(testEngines)).dial(t))
	_, err := r.Do(context.Background(), refusing{})
	if got := engine.MissingGrants(err); !slices.Equal(got, []string{"storage", "http"}) {
		t.Fatalf("MissingGrants through the agent: %q (error %v)", got, err)
	}
}
