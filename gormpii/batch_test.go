package gormpii_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/glebarez/sqlite"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldguard/pii/gormpii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
)

// counting is a database/sql connector that counts the statements whose
// text contains a needle: what the key store sends, seen from outside.
type counting struct {
	drv    driver.Driver
	dsn    string
	needle string
	n      atomic.Int64
}

func (c *counting) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return countingConn{conn, c}, nil
}

func (c *counting) Driver() driver.Driver { return c.drv }

// countingConn sends every statement through Prepare (it offers neither
// ExecerContext nor QueryerContext); its statements count each run, so a
// statement prepared once and run many times (the key store keeps its
// batch statements prepared on SQLite) counts every time it runs.
type countingConn struct {
	driver.Conn
	c *counting
}

func (cc countingConn) Prepare(query string) (driver.Stmt, error) {
	st, err := cc.Conn.Prepare(query)
	if err != nil || !strings.Contains(query, cc.c.needle) {
		return st, err
	}
	return countingStmt{st, cc.c}, nil
}

type countingStmt struct {
	driver.Stmt
	c *counting
}

func (s countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.n.Add(1)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.n.Add(1)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (cc countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return cc.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// TestBatchCreateAndFind checks that a batch create of new data subjects
// makes their keys together: one lookup and one insert of keys, not one
// per record; and that a Find of the batch from a fresh Guard (cold
// caches) reads their keys with one query, not one per record.
func TestBatchCreateAndFind(t *testing.T) {
	ctx := context.Background()
	dsn := "file:" + filepath.Join(t.TempDir(), "batch.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	probe, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	cn := &counting{drv: probe.Driver(), dsn: dsn, needle: "pii_keys"}
	require.NoError(t, probe.Close())
	sqlDB := sql.OpenDB(cn)
	t.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)

	master, err := local.GenerateMasterKey() // a test key; never hard-code a real one
	require.NoError(t, err)
	keyset := filepath.Join(t.TempDir(), "keyset.json")
	kp, err := local.Create(keyset, master)
	require.NoError(t, err)
	g, err := guard.New(kp, sqlDB, nil)
	require.NoError(t, err)
	require.NoError(t, db.Use(gormpii.New(g, nil)))
	require.NoError(t, db.AutoMigrate(&Customer{}))
	_, err = gormpii.Register[Customer](g, db)
	require.NoError(t, err)
	require.NoError(t, g.CreateTables(ctx))
	// Warm the tenant's branch key and the tokenizer's root, which are made
	// once, so the count below is the batch's own.
	first := cust("acme", "warm")
	require.NoError(t, db.Create(&first).Error)

	const n = 60
	batch := make([]Customer, n)
	for i := range batch {
		batch[i] = cust("acme", fmt.Sprintf("b%02d", i))
	}
	cn.n.Store(0)
	require.NoError(t, db.Scopes(gormpii.Tenant("acme")).Create(&batch).Error)
	created := cn.n.Load()
	require.Positive(t, created, "the counter must see the key store's statements")
	// A batch twice as large costs the same statements: none is per record.
	// (A few are per batch: the lookup of the batch's keys, their insert,
	// and the tenant's keys, read again inside each transaction.)
	twice := make([]Customer, 2*n)
	for i := range twice {
		twice[i] = cust("acme", fmt.Sprintf("t%03d", i))
	}
	cn.n.Store(0)
	require.NoError(t, db.Scopes(gormpii.Tenant("acme")).Create(&twice).Error)
	require.Equal(t, created, cn.n.Load(), "key-table statements of a batch of %d and of %d", n, 2*n)
	require.LessOrEqual(t, created, int64(10), "keys of %d new subjects: %d key-table statements, want a few per batch", n, created)
	var keys int
	require.NoError(t, sqlDB.QueryRow("SELECT COUNT(*) FROM pii_keys WHERE kind = 'dek'").Scan(&keys))
	require.GreaterOrEqual(t, keys, 3*n, "every new subject has its own data key")

	// A fresh Guard over the same tables: nothing cached.
	kp2, err := local.Open(keyset, master)
	require.NoError(t, err)
	g2, err := guard.New(kp2, sqlDB, nil)
	require.NoError(t, err)
	db2, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	require.NoError(t, db2.Use(gormpii.New(g2, nil)))
	_, err = gormpii.Register[Customer](g2, db2)
	require.NoError(t, err)
	cn.n.Store(0)
	var got []Customer
	require.NoError(t, db2.Scopes(gormpii.Tenant("acme")).Where("id LIKE ?", "b%").Order("id").Find(&got).Error)
	read := cn.n.Load()
	require.Len(t, got, n)
	for i, c := range got {
		require.Equal(t, fmt.Sprintf("Name b%02d", i), c.Name)
		require.Equal(t, fmt.Sprintf("b%02d@example.com", i), c.Email)
	}
	require.Positive(t, read)
	require.LessOrEqual(t, read, int64(10), "cold read of %d subjects: %d key-table statements, want a few per page", n, read)
}
