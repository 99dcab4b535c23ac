package srcschema_test

import (
	"database/sql"
	"go/types"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/srcschema"
)

// TestRebuild rebuilds types from source and checks that pii reads the
// result as it reads the source: same schema, field by field.
func TestRebuild(t *testing.T) {
	p := load(t)
	var ts srcschema.Types
	lookup := func(n string) types.Type { return p.Types.Scope().Lookup(n).Type() }
	for _, name := range []string{"Base", "Meta", "Contact", "Renamed", "Rebuildable"} {
		t.Run(name, func(t *testing.T) {
			src, err := srcschema.Schema(ts.Of(lookup(name)), "rebuilt."+name)
			require.NoError(t, err)
			rt, err := srcschema.Rebuild(lookup(name))
			require.NoError(t, err)
			require.Empty(t, rt.Name())
			require.NoError(t, pii.Register(reflect.New(rt).Interface(), "rebuilt."+name))
			run, err := pii.SchemaOf(rt)
			require.NoError(t, err)
			require.NoError(t, srcschema.SameSchema(src, run))

			// A schema that differs is named.
			other := *src
			other.Name = "elsewhere"
			require.ErrorContains(t, srcschema.SameSchema(&other, run), `named "rebuilt.`+name+`", not "elsewhere"`)
			if len(src.Fields) > 0 {
				other = *src
				f := *src.Fields[0]
				f.Category = "x"
				other.Fields = append([]*pii.Field{&f}, src.Fields[1:]...)
				require.ErrorContains(t, srcschema.SameSchema(&other, run), "differs once rebuilt")
				other.Fields = src.Fields[1:]
				require.ErrorContains(t, srcschema.SameSchema(&other, run), "tagged fields rebuilt")
			}
			if src.Subject != nil {
				other = *src
				other.Subject = nil
				require.ErrorContains(t, srcschema.SameSchema(&other, run), "its subject, id or tenant field differs")
				f := *src.Subject
				f.Path = "Elsewhere"
				other.Subject = &f
				require.ErrorContains(t, srcschema.SameSchema(&other, run), "its subject, id or tenant field differs")
			}
		})
	}

	rt, err := srcschema.Rebuild(lookup("Rebuildable"))
	require.NoError(t, err)
	var names []string
	for i := range rt.NumField() {
		names = append(names, rt.Field(i).Name)
	}
	require.Equal(t, []string{"Base", "ID", "Owner", "Email", "EmailIdx", "Note", "Home", "Created", "Seen"}, names)
	require.True(t, rt.Field(0).Anonymous)
	require.Equal(t, reflect.TypeFor[string](), rt.Field(2).Type, "a defined string type is a string")
	require.Equal(t, reflect.TypeFor[sql.NullString](), rt.Field(5).Type)
	require.Equal(t, reflect.TypeFor[*time.Time](), rt.Field(8).Type)
	require.Equal(t, `pii:"email,encrypt,index=EmailIdx"`, string(rt.Field(3).Tag))

	_, err = srcschema.Rebuild(lookup("RebuildValuer"))
	require.ErrorContains(t, err, "shapes.RebuildValuer.ID: shapes.Valuer is a driver.Valuer or sql.Scanner")
	_, err = srcschema.Rebuild(lookup("RebuildStringer"))
	require.ErrorContains(t, err, "RebuildStringer.ID: a pointer to a fmt.Stringer")
	_, err = srcschema.Rebuild(lookup("Email"))
	require.ErrorContains(t, err, "not a struct type")
	// Everything rebuilds, but its subject is a fmt.Stringer by its
	// method, which the rebuilt type lacks: pii refuses it.
	rt, err = srcschema.Rebuild(lookup("Everything"))
	require.NoError(t, err)
	_, err = pii.SchemaOf(rt)
	require.ErrorContains(t, err, "fmt.Stringer")
}
