//go:build !unix

package sandbox

// oDirectory is absent here: wazero checks that a folder was opened when
// the guest asked for one.
const oDirectory = 0
