package srcschema_test

import (
	"go/types"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/packages"

	"github.com/fieldguard/pii"
	"github.com/fieldguard/pii/internal/srcschema"
	"github.com/fieldguard/pii/internal/srcschema/internal/shapes"
)

const shapesPath = srcschema.Module + "/internal/srcschema/internal/shapes"

func load(t *testing.T) *packages.Package {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedTypes |
		packages.NeedTypesInfo | packages.NeedSyntax | packages.NeedFiles | packages.NeedImports}, shapesPath)
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	require.Empty(t, pkgs[0].Errors)
	return pkgs[0]
}

// TestSchemasMatchReflection builds the schema of every type in shapes
// from source and by reflection and compares them: fields, roles, options,
// index paths, untagged fields, the inventory, and the error of a bad tag,
// word for word.
func TestSchemasMatchReflection(t *testing.T) {
	p := load(t)
	names := map[*types.TypeName]string{}
	srcschema.RegisteredNames(p.TypesInfo, p.Syntax, names)
	var ts srcschema.Types
	for name, v := range shapes.Values {
		t.Run(name, func(t *testing.T) {
			tn := p.Types.Scope().Lookup(name).(*types.TypeName)
			src, serr := srcschema.Schema(ts.Of(tn.Type()), names[tn])
			run, rerr := pii.SchemaOf(v)
			if rerr != nil {
				require.Error(t, serr)
				require.Equal(t, rerr.Error(), serr.Error())
				var fe *pii.FieldError
				require.ErrorAs(t, serr, &fe)
				require.True(t, srcschema.FieldPos(tn.Type(), fe.Path).IsValid(), "no position for %s", fe.Path)
				return
			}
			require.NoError(t, serr)
			require.Equal(t, run.Name, src.Name)
			require.Equal(t, len(run.Fields), len(src.Fields))
			for i, f := range run.Fields {
				g := src.Fields[i]
				require.Equal(t, f.Path, g.Path)
				require.Equal(t, f.Category, g.Category)
				require.Equal(t, f.Opts, g.Opts)
				require.Equal(t, f.Index, g.Index)
				require.Equal(t, f.FromIndex, g.FromIndex)
				require.Equal(t, f.IndexFieldIndex, g.IndexFieldIndex)
				require.True(t, srcschema.FieldPos(tn.Type(), f.Path).IsValid(), f.Path)
			}
			for _, pair := range [][2]*pii.Field{{run.Subject, src.Subject}, {run.ID, src.ID}, {run.Tenant, src.Tenant}} {
				require.Equal(t, pair[0] == nil, pair[1] == nil)
				if pair[0] != nil {
					require.Equal(t, pair[0].Path, pair[1].Path)
					require.Equal(t, pair[0].Index, pair[1].Index)
				}
			}
			require.Equal(t, srcschema.Inventory(run), srcschema.Inventory(src))
		})
	}
}

// TestTypeStringMatchesReflect: every field type of Everything prints as
// reflect prints it.
func TestTypeStringMatchesReflect(t *testing.T) {
	p := load(t)
	st := p.Types.Scope().Lookup("Everything").Type().Underlying().(*types.Struct)
	rt := reflect.TypeOf(shapes.Everything{})
	require.Equal(t, rt.NumField(), st.NumFields())
	for i := range st.NumFields() {
		require.Equal(t, rt.Field(i).Type.String(), srcschema.TypeString(st.Field(i).Type()), rt.Field(i).Name)
	}
	var ts srcschema.Types
	require.Equal(t, "shapes.Everything", ts.Of(p.Types.Scope().Lookup("Everything").Type()).String())
}

func TestTaggedAndParts(t *testing.T) {
	p := load(t)
	lookup := func(n string) types.Type { return p.Types.Scope().Lookup(n).Type() }
	require.True(t, srcschema.Tagged(lookup("Everything")))
	require.False(t, srcschema.Tagged(lookup("CustomerID")))
	var parts []string
	for _, n := range srcschema.Parts(lookup("Everything")) {
		parts = append(parts, n.Obj().Name())
	}
	require.Equal(t, []string{"Base", "Meta", "Contact", "Contact", "Contact", "Contact"}, parts)
}
