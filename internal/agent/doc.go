// Package agent keeps engines open in a per-user background process, so
// that a vault unlocked once stays unlocked for its password timeout and
// extensions stay instantiated between commands, as ssh-agent does for keys.
//
// The agent listens on a Unix socket in Dir ($XDG_RUNTIME_DIR/sesame, or a
// 0700 folder of its own in the temporary folder). The folder must belong
// to the user and be closed to others; the socket is 0600; and on every
// connection the agent checks the peer's credentials, and the client checks
// the agent's, so that secrets cross the socket only between processes of
// the same user. One agent runs per user: it holds a lock in the folder.
//
// A client gets an engine of the agent with Client.Engine: a Remote, an
// api.Transport that runs any request of the engine (engine.Do) in the
// agent, with the same results and errors as *engine.Engine in the process.
// The agent carries every operation of api.Operations without a line of
// its own per operation: callbacks (a confirmation, a storage report) are
// found by their types in the call and answered across the socket, and a
// sentinel error crosses as its api.Code.
// The agent opens one engine per registry file it is asked about, asks the
// client for each environment variable granted to an extension when the
// engine reads it (a request carries no environment of its own), and
// notices changes of the registry file as engine.Engine does. It stops
// when asked (Client.Stop), after an idle period without a request, or on
// a signal: then every vault forgets its keys at once, before the requests
// in progress are canceled, and Serve returns within a grace period even
// if one of them hangs. Nothing it holds is written to disk or logged; Run
// makes its process not dumpable and core-less.
//
// The agent bounds what a client can make it hold: a message longer than
// 8 MiB is refused by its length, the rest of a message must come within a
// timeout, and 64 connections are served at once.
//
// The package links no engine: its client (Dial, Client, Remote, the codec)
// is all the sesame command needs when the agent serves it, and the server
// opens its engines through the Engines the serving program gives
// (sesame-engine gives engine.Open), so a command served by the agent runs
// none of the engine's package inits (RATIONALE.md, "A thin client").
//
// Checking peer credentials is implemented for Linux; elsewhere the agent
// refuses every client and callers work alone.
package agent
