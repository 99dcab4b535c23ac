package guard

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

// tmember has normalised, prefix and deterministic searchable fields.
type tmember struct {
	Tenant       string `pii:"tenant"`
	ID           string `pii:"id"`
	Email        string `pii:"email,encrypt,index=EmailIndex,norm=email"`
	EmailIndex   string `pii:"-"`
	Login        string `pii:"email,encrypt=det,norm=email"`
	Surname      string `pii:"name,encrypt,index=SurnameIndex,norm=lower,prefix=3"`
	SurnameIndex string `pii:"-"`
}

func TestFindByNormalised(t *testing.T) {
	dbs(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		members := newTestTable[tmember](t, db, &TableOptions{Table: "l14_members"})
		rows := []tmember{
			{Tenant: "acme", ID: "m1", Email: "Alice@Example.com", Login: "Alice@Example.com", Surname: "Smith"},
			{Tenant: "acme", ID: "m2", Email: "bob@example.com", Login: "bob@example.com", Surname: "smithers"},
			{Tenant: "acme", ID: "m3", Email: "carol@example.com", Login: "carol@example.com", Surname: "Jones"},
			{Tenant: "other", ID: "m1", Email: "alice@example.com", Login: "alice@example.com", Surname: "Smith"},
		}
		require.NoError(t, members.InsertMany(ctx, rows))
		ids := func(found []tmember) []string {
			var out []string
			for _, m := range found {
				out = append(out, m.ID)
			}
			return out
		}
		for _, tc := range []struct {
			field, value string
			want         []string
		}{
			{"Email", "  ALICE@EXAMPLE.COM", []string{"m1"}},
			{"Email", "alice@example.com", []string{"m1"}},
			{"Login", "ALICE@example.com", []string{"m1"}},
			{"Surname", "SMI", []string{"m1", "m2"}},
			{"Surname", "smithson", []string{"m1", "m2"}},
			{"Surname", "jon", []string{"m3"}},
			{"Email", "dave@example.com", nil},
		} {
			found, err := members.FindBy(ctx, "acme", tc.field, tc.value)
			require.NoError(t, err, tc.field)
			require.Equal(t, tc.want, ids(found), "%s %q", tc.field, tc.value)
		}
		found, err := members.FindBy(ctx, "acme", "Email", "ALICE@example.com")
		require.NoError(t, err)
		require.Equal(t, "Alice@Example.com", found[0].Email, "the random ciphertext keeps the value as typed")
		require.Equal(t, "alice@example.com", found[0].Login, "the deterministic one holds the normal form")
	})
}
