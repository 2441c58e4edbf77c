// Package cli is the sesame command: its command tree, flags, prompts and
// output, run by Main. Two programs run it: cmd/sesame, the thin client,
// with no engine, whose commands the sesame agent serves; and
// cmd/sesame-engine, with the engine in its process (package
// internal/cli/local). The thin program hands what needs the engine in its
// own process over to sesame-engine beside it (handoff.go), so both
// programs behave as one: same messages, prompts and exit statuses.
//
// Its behaviour is pinned by the txtar scripts of testdata/script, which
// TestScripts runs with the agent and alone, each time through both
// programs (copies of the test binary).
package cli
