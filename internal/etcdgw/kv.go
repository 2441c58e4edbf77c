package etcdgw

import (
	"context"
	"encoding/json"
	"strconv"
)

// KeyValue is one key as etcd keeps it. A revision is the cluster's
// counter of changes: CreateRevision is the change that created the key
// (since its last deletion), ModRevision the last one that wrote it.
type KeyValue struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision Number `json:"create_revision"`
	ModRevision    Number `json:"mod_revision"`
	Version        Number `json:"version"`
}

// Number is an int64 in the gateway's JSON: a decimal string, or a number.
type Number int64

// UnmarshalJSON accepts "12" and 12.
func (n *Number) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseInt(s, 10, 64)
		*n = Number(v)
		return err
	}
	var v int64
	err := json.Unmarshal(b, &v)
	*n = Number(v)
	return err
}

// MarshalJSON writes the decimal string the gateway expects.
func (n Number) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatInt(int64(n), 10))
}

type header struct {
	Revision Number `json:"revision"`
}

// rangeRequest is etcd's RangeRequest: key alone, or [key, range_end).
type rangeRequest struct {
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end,omitempty"`
	Limit    Number `json:"limit,omitempty"`
	Revision Number `json:"revision,omitempty"`
}

type rangeResponse struct {
	Header header     `json:"header"`
	KVs    []KeyValue `json:"kvs"`
	More   bool       `json:"more"`
}

// rangePage is the most keys one range request asks for.
const rangePage = 500

// Get returns key's KeyValue, or nil when it is absent, and the cluster's
// revision at the read.
func (c *Client) Get(ctx context.Context, key []byte) (*KeyValue, int64, error) {
	var out rangeResponse
	if err := c.call(ctx, "/v3/kv/range", rangeRequest{Key: key}, &out); err != nil {
		return nil, 0, err
	}
	if len(out.KVs) == 0 {
		return nil, int64(out.Header.Revision), nil
	}
	return &out.KVs[0], int64(out.Header.Revision), nil
}

// Prefix returns every key that starts with prefix, in byte order, as of
// one revision (the first page's; the later pages read at it, so that the
// list is one moment's, even if it is long), and that revision.
func (c *Client) Prefix(ctx context.Context, prefix []byte) ([]KeyValue, int64, error) {
	req := rangeRequest{Key: prefix, RangeEnd: PrefixEnd(prefix), Limit: rangePage}
	var all []KeyValue
	for {
		var out rangeResponse
		if err := c.call(ctx, "/v3/kv/range", req, &out); err != nil {
			return nil, 0, err
		}
		all = append(all, out.KVs...)
		if req.Revision == 0 {
			req.Revision = out.Header.Revision
		}
		if !out.More || len(out.KVs) == 0 {
			return all, int64(req.Revision), nil
		}
		last := out.KVs[len(out.KVs)-1].Key
		req.Key = append(append([]byte(nil), last...), 0)
	}
}

// PrefixEnd is the range_end that makes a range of every key starting with
// prefix: prefix with its last byte below 0xff incremented and the rest cut
// ("\x00" for an empty prefix or one of 0xff bytes only: every key).
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

// Put writes key and returns the revision of the change.
func (c *Client) Put(ctx context.Context, key, value []byte) (int64, error) {
	var out struct {
		Header header `json:"header"`
	}
	err := c.call(ctx, "/v3/kv/put", putRequest{Key: key, Value: value}, &out)
	return int64(out.Header.Revision), err
}

type putRequest struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

type deleteRequest struct {
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end,omitempty"`
}

// Delete removes key (and, with prefix, every key that starts with it) and
// returns how many keys went.
func (c *Client) Delete(ctx context.Context, key []byte, prefix bool) (int64, error) {
	req := deleteRequest{Key: key}
	if prefix {
		req.RangeEnd = PrefixEnd(key)
	}
	var out struct {
		Deleted Number `json:"deleted"`
	}
	err := c.call(ctx, "/v3/kv/deleterange", req, &out)
	return int64(out.Deleted), err
}
