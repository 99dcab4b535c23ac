// Package shredfeed is the plumbing between a Sealer (envelope), the
// store that announces its forgets (sqlkeystore on PostgreSQL) and the
// feed that delivers them (sqlkeystore/pglisten): the bucket a forget is
// announced under, what a feed reports to, and the hooks envelope and
// sqlkeystore register from their init functions. Users call
// pglisten.Follow; none of this is public API.
package shredfeed

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"time"
)

// Buckets is the number of buckets Bucket maps key scopes to.
const Buckets = 4096

// Bucket returns the bucket (below Buckets) of the key scope (tenant,
// scope). A forget is announced by its bucket, not its scope, so whoever
// can listen learns next to nothing about whom was forgotten (a bucket
// holds one in 4096 subjects), and a process purges the cached keys of
// that bucket's subjects. The hash is FNV-1a of the length-prefixed
// (4-byte big-endian length) tenant and scope: fixed, so every process
// agrees.
func Bucket(tenant, scope string) uint16 {
	h := fnv.New32a()
	b := binary.BigEndian.AppendUint32(nil, uint32(len(tenant)))
	b = append(b, tenant...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(scope)))
	b = append(b, scope...)
	h.Write(b)
	return uint16(h.Sum32() % Buckets)
}

// Watcher is what a feed reports to: Listening once it receives every
// forget committed from then on (and again after it reconnected, having
// possibly missed some), Shredded for each forget (a bucket as Bucket
// returns it; one of Buckets or more is not a bucket and is ignored), and
// Synced(t) whenever it knows that every forget committed before t (and
// after the last Listening) was passed to Shredded.
type Watcher interface {
	Listening()
	Shredded(bucket uint16)
	Synced(t time.Time)
}

// Feed reports the forgets made by any process sharing store (the
// Sealer's KeyStore) to w until ctx is done, then returns nil, or returns
// an error when it cannot go on.
type Feed func(ctx context.Context, store any, w Watcher) error

// Follow runs feed for sealer, an *envelope.Sealer, until ctx is done (it
// then returns nil) or the feed fails; a second concurrent Follow on the
// same Sealer is an error. envelope sets it.
var Follow func(ctx context.Context, sealer any, feed Feed) error

// Channel returns the PostgreSQL channel on which a sqlkeystore store's
// Forget announces a forget, or "" for a store on SQLite or another kind
// of KeyStore. sqlkeystore sets it.
var Channel = func(store any) string { return "" }
