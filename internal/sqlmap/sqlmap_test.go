package sqlmap_test

import (
	"database/sql"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/sqlmap"
)

type address struct {
	Street   string `pii:"address"`
	Postcode string `pii:"postcode"`
}

type customer struct {
	Tenant    string  `pii:"tenant"`
	ID        int64   `pii:"id" db:"customer_id"`
	Subject   string  `pii:"subject"`
	Email     *string `pii:"email"`
	Address   address
	CreatedAt time.Time
	Notes     []string
	Skip      string `db:"-"`
}

func TestMap(t *testing.T) {
	s, err := pii.SchemaOf(customer{})
	require.NoError(t, err)
	m, err := sqlmap.New(s, sqlmap.Mapping{})
	require.NoError(t, err)
	require.Equal(t, "customer", m.Table)
	require.Equal(t, "tenant, customer_id, subject, email, address_street, address_postcode, created_at", m.SelectList)
	require.Equal(t, "tenant, customer_id", m.OrderBy)
	require.Equal(t, "customer_id", m.IDCol)
	require.Equal(t, "subject", m.SubjectCol)
	require.Equal(t, "created_at", m.CreatedCol)
	require.Equal(t, "address_postcode", m.ByPath["Address.Postcode"].Name)
	require.Equal(t, int64(42), m.KeyArg(m.ID, "42"))
	require.Equal(t, "acme", m.KeyArg(m.Tenant, "acme"))

	email := "a@example.com"
	raw := []any{"acme", int64(42), "s1", nil, []byte("1 Main St"), "AB1", "2024-05-01 10:00:00"}
	pv, err := m.Decode(raw)
	require.NoError(t, err)
	got := pv.Interface().(*customer)
	require.Nil(t, got.Email, "NULL reads as a nil pointer")
	require.Equal(t, "1 Main St", got.Address.Street)
	require.Equal(t, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), got.CreatedAt)
	got.Email = &email
	require.Equal(t, email, sqlmap.Value(m.Field(pv.Elem(), m.Col("email"))))
	require.Nil(t, sqlmap.Value(reflect.ValueOf("")), "zero values are NULL")

	_, err = sqlmap.New(s, sqlmap.Mapping{Table: "bad-name"})
	require.ErrorContains(t, err, "letters, digits and underscores")
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"CreatedAt": "created_at", "HTTPServer": "http_server", "ID": "id", "Address_Line": "address_line"} {
		require.Equal(t, want, sqlmap.Snake(in), in)
	}
}

type nullable struct {
	ID    string `pii:"id"`
	Note  sql.NullString
	Count sql.Null[int64]
	Seen  sql.NullTime
}

func TestValuers(t *testing.T) {
	s, err := pii.SchemaOf(nullable{})
	require.NoError(t, err)
	m, err := sqlmap.New(s, sqlmap.Mapping{})
	require.NoError(t, err)
	require.Equal(t, "id, note, count, seen", m.SelectList, "a Valuer is one column, not a struct of columns")
	pv, err := m.Decode([]any{"n1", "hi", nil, nil})
	require.NoError(t, err)
	got := pv.Interface().(*nullable)
	require.Equal(t, sql.NullString{String: "hi", Valid: true}, got.Note)
	require.False(t, got.Count.Valid)
	require.Equal(t, "hi", sqlmap.Value(m.Field(pv.Elem(), 1)))
	require.Nil(t, sqlmap.Value(m.Field(pv.Elem(), 2)))
	got.Count = sql.Null[int64]{V: 3, Valid: true}
	require.Equal(t, int64(3), sqlmap.Value(m.Field(pv.Elem(), 2)))
	require.Equal(t, "text", sqlmap.PgType(m.Cols[1].Type))
	require.Equal(t, "bigint", sqlmap.PgType(m.Cols[2].Type))
	require.Equal(t, "timestamptz", sqlmap.PgType(m.Cols[3].Type))
}
