package etcdgw

import "context"

// Compare is one condition of a transaction: the key's CreateRevision or
// ModRevision equals Revision. CreateRevision 0 means the key is absent;
// ModRevision r means no one wrote the key since the read that saw r.
type Compare struct {
	Key      []byte
	Target   Target
	Revision int64
}

// Target is the revision a Compare looks at.
type Target int

const (
	CreateRevision Target = iota
	ModRevision
)

// Op is one operation of a transaction's branch: a Put (Value set), a
// Delete, or a Get (the KeyValue comes back in TxnResult.Gets).
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte
}

// OpKind says what an Op does.
type OpKind int

const (
	OpGet OpKind = iota
	OpPut
	OpDelete
)

// TxnResult is what a transaction did: Succeeded says whether every
// Compare held (and the Then branch ran, else the Else branch); Gets holds
// the answer of each OpGet of the branch that ran, in order (nil: absent).
type TxnResult struct {
	Succeeded bool
	Revision  int64
	Gets      []*KeyValue
}

// Txn runs one transaction: atomically, if every compare holds, the
// operations of then, else those of otherwise.
func (c *Client) Txn(ctx context.Context, compares []Compare, then, otherwise []Op) (TxnResult, error) {
	req := txnRequest{Success: ops(then), Failure: ops(otherwise)}
	for _, cmp := range compares {
		w := compareJSON{Key: cmp.Key, Result: "EQUAL"}
		if cmp.Target == ModRevision {
			w.Target, w.ModRevision = "MOD", Number(cmp.Revision)
		} else {
			w.Target, w.CreateRevision = "CREATE", Number(cmp.Revision)
		}
		req.Compare = append(req.Compare, w)
	}
	var out struct {
		Header    header `json:"header"`
		Succeeded bool   `json:"succeeded"`
		Responses []struct {
			Range *rangeResponse `json:"response_range"`
		} `json:"responses"`
	}
	if err := c.call(ctx, "/v3/kv/txn", req, &out); err != nil {
		return TxnResult{}, err
	}
	r := TxnResult{Succeeded: out.Succeeded, Revision: int64(out.Header.Revision)}
	for _, resp := range out.Responses {
		if resp.Range == nil {
			continue
		}
		var kv *KeyValue
		if len(resp.Range.KVs) > 0 {
			kv = &resp.Range.KVs[0]
		}
		r.Gets = append(r.Gets, kv)
	}
	return r, nil
}

// Create writes key only if it is absent, atomically across every client
// of the cluster: of many creating one key at once, exactly one gets true.
// When the key was present, existing is what it holds.
func (c *Client) Create(ctx context.Context, key, value []byte) (created bool, existing *KeyValue, err error) {
	r, err := c.Txn(ctx,
		[]Compare{{Key: key, Target: CreateRevision, Revision: 0}},
		[]Op{{Kind: OpPut, Key: key, Value: value}},
		[]Op{{Kind: OpGet, Key: key}})
	if err != nil || r.Succeeded {
		return r.Succeeded, nil, err
	}
	return false, r.Gets[0], nil
}

// Swap writes key only if no one wrote it since the read that saw
// modRevision: an update that cannot lose a concurrent one. It reports
// false, and what the key holds now (nil: deleted), when the key changed.
func (c *Client) Swap(ctx context.Context, key, value []byte, modRevision int64) (swapped bool, current *KeyValue, err error) {
	r, err := c.Txn(ctx,
		[]Compare{{Key: key, Target: ModRevision, Revision: modRevision}},
		[]Op{{Kind: OpPut, Key: key, Value: value}},
		[]Op{{Kind: OpGet, Key: key}})
	if err != nil || r.Succeeded {
		return r.Succeeded, nil, err
	}
	return false, r.Gets[0], nil
}

type txnRequest struct {
	Compare []compareJSON `json:"compare,omitempty"`
	Success []opJSON      `json:"success,omitempty"`
	Failure []opJSON      `json:"failure,omitempty"`
}

type compareJSON struct {
	Key            []byte `json:"key"`
	Target         string `json:"target"`
	Result         string `json:"result"`
	CreateRevision Number `json:"create_revision,omitempty"`
	ModRevision    Number `json:"mod_revision,omitempty"`
}

type opJSON struct {
	Range  *rangeRequest  `json:"request_range,omitempty"`
	Put    *putRequest    `json:"request_put,omitempty"`
	Delete *deleteRequest `json:"request_delete_range,omitempty"`
}

func ops(list []Op) []opJSON {
	var out []opJSON
	for _, op := range list {
		switch op.Kind {
		case OpPut:
			out = append(out, opJSON{Put: &putRequest{Key: op.Key, Value: op.Value}})
		case OpDelete:
			out = append(out, opJSON{Delete: &deleteRequest{Key: op.Key}})
		default:
			out = append(out, opJSON{Range: &rangeRequest{Key: op.Key}})
		}
	}
	return out
}
