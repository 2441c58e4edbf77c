// Package kvplugin is the hashicorp/go-plugin side of the plugin-boundary
// benchmark: a store of named values served over gRPC by a plugin process
// (cmd/kvplugin), the way a Go program would add a vault with go-plugin.
//
// kv.pb.go and kv_grpc.pb.go are generated from kv.proto with protoc
// (Debian's protobuf-compiler) and protoc-gen-go v1.36.12 and
// protoc-gen-go-grpc v1.6.2:
//
//	protoc --go_out=. --go_opt=paths=source_relative \
//	       --go-grpc_out=. --go-grpc_opt=paths=source_relative kv.proto
package kvplugin

import (
	"bytes"
	"context"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Store is what the plugin serves and what the host calls.
type Store interface {
	Get(ctx context.Context, name string) ([]byte, error)
	Set(ctx context.Context, name string, value []byte) error
}

// Handshake returns the handshake shared by the host and the plugin; a
// mismatch stops the plugin before it serves anything.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  1,
		MagicCookieKey:   "SESAME_BENCH_PLUGIN",
		MagicCookieValue: "kv",
	}
}

// Name is the plugin's name in the plugin maps.
const Name = "kv"

// Plugin is the go-plugin definition: gRPC only.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Store // served by the plugin process; nil in the host
}

// GRPCServer registers Impl with the plugin's gRPC server.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterKVServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient returns the host's Store over the plugin's connection.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{kv: NewKVClient(c)}, nil
}

type client struct{ kv KVClient }

func (c *client) Get(ctx context.Context, name string) ([]byte, error) {
	r, err := c.kv.Get(ctx, &GetRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return r.Value, nil
}

func (c *client) Set(ctx context.Context, name string, value []byte) error {
	_, err := c.kv.Set(ctx, &SetRequest{Name: name, Value: value})
	return err
}

type server struct {
	UnimplementedKVServer
	impl Store
}

func (s *server) Get(ctx context.Context, r *GetRequest) (*GetResponse, error) {
	v, err := s.impl.Get(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	return &GetResponse{Value: v}, nil
}

func (s *server) Set(ctx context.Context, r *SetRequest) (*SetResponse, error) {
	return &SetResponse{}, s.impl.Set(ctx, r.Name, r.Value)
}

// MemStore is an in-memory Store.
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

// Get returns a copy of the value of name, or a NotFound gRPC status.
func (s *MemStore) Get(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such secret")
	}
	return bytes.Clone(v), nil
}

// Set stores a copy of value under name.
func (s *MemStore) Set(_ context.Context, name string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = bytes.Clone(value)
	return nil
}
