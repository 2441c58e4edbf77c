// Command kvplugin is the go-plugin plugin of the benchmarks: an in-memory
// store served over gRPC. The host (benchreport) starts it; run alone it
// only says that it is a plugin.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/sesamehq/sesame/bench/kvplugin"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: kvplugin.Handshake(),
		Plugins:         map[string]plugin.Plugin{kvplugin.Name: &kvplugin.Plugin{Impl: kvplugin.NewMemStore()}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
