// Package sandbox runs vault extensions compiled to WebAssembly, under the
// sesame ABI v1 (abi/SPEC.md). It is the only package of sesame that imports
// wazero.
//
// A Host owns the wazero runtimes (one per memory limit, as wazero sets that
// limit per runtime, and per set of host functions imported, which are all a
// runtime has: runtimekey.go, wasi.go) and a compilation cache shared by all
// of them, on disk when a cache folder is given, so that a second process
// does not compile again. Load checks a module before it ever runs: the pin,
// then its shape before anything is compiled (shape.go: sizes and counts
// under limits, since wazero's compiler trusts what a module declares and
// ignores deadlines), then, once compiled, the marker, memory, imports and
// export signatures. Before compiling, Load rewrites the module so that the
// host memory it can make wazero allocate outside its linear memory counts
// against its memory grant (instrument.go): its tables get a maximum, and
// each function it defines is wrapped to count its frame against a stack
// budget, which wazero itself caps only at 400 MB; every wrapper and loop
// body checks a stop global, which the host sets when a call's deadline
// passes, and returns to Go now and then, so that a spinning guest neither
// outlives its deadline nor holds up the collector. Vaults that load the
// same bytes under the same grant share the compiled module (shared.go). The
// returned Module keeps a bounded pool of instances, each with its linear
// memory outside the Go heap on Linux, reserved up to the grant and
// committed as the guest grows it, zeroed and unmapped when the instance
// goes (memory.go); each Call takes one instance, runs one export under a
// deadline, and copies the output out. An instance that traps, exits or
// times out is discarded and the next call gets a fresh one.
//
// Guests get nothing they were not granted: no filesystem, environment or
// arguments by default; the real clocks and the operating system's random
// source (wazero's defaults are a fake clock and a deterministic source);
// sleeps capped at 10 ms a call so that a deadline can interrupt them; stdout
// discarded and stderr kept as a bounded tail for error reports.
//
// Host functions never trust the guest: every pointer and length is checked
// against memory and limits before use, and bad input is answered with a
// status, never a trap or a panic.
package sandbox
