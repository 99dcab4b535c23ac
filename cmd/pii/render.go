package main

import (
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/fieldguard/pii"
)

func renderMarkdown(w io.Writer, inv *inventory) error {
	var b strings.Builder
	b.WriteString(inv.Markdown())
	if len(inv.Errors) > 0 {
		b.WriteString("\n## Malformed tags\n\n")
		for _, e := range inv.Errors {
			fmt.Fprintf(&b, "- %s: %s\n", e.Source, e.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderJSON(w io.Writer, inv *inventory) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

// csvHeader is the CSV layout: one row per tagged field, then one per
// warning (kind "warning": type, field, source and the reason in note).
var csvHeader = []string{"kind", "type", "go_type", "field", "category", "sensitive", "protection",
	"retain", "min", "grace", "clock", "then", "purpose", "basis", "reveal", "log", "source", "note"}

func renderCSV(w io.Writer, inv *inventory) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	for _, t := range inv.Types {
		for _, f := range t.Fields {
			r := f.Retention
			if r == nil {
				r = &pii.Retention{}
			}
			_ = cw.Write([]string{"field", t.Name, f.GoType, f.Path, f.Category, yesNo(f.Sensitive),
				strings.Join(f.Protection, " "), r.Max, r.Min, r.Grace, r.Clock, r.Action,
				f.Purpose, f.Basis, strings.Join(f.Reveal, "|"), f.Log, t.Source, ""})
		}
	}
	for _, x := range inv.Warnings {
		_ = cw.Write([]string{"warning", x.Type, "", x.Field, "", "", "", "", "", "", "", "", "", "", "", "", x.Source, x.Reason})
	}
	for _, e := range inv.Errors {
		_ = cw.Write([]string{"error", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", e.Source, e.Error})
	}
	cw.Flush()
	return cw.Error()
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

//go:embed inventory.html.tmpl
var htmlTemplate string

var pageTmpl = template.Must(template.New("page").Parse(htmlTemplate))

// page is what the HTML template shows.
type page struct {
	Inv      *inventory
	Diagram  diagram
	Rows     []row
	Mermaid  string
	NumTypes int
}

type row struct {
	Type, Field, Category, Protection, Retention, Purpose, Basis, Log, Source, ProtClass string
	Sensitive                                                                            bool
}

// diagram is a plain SVG drawing of the Mermaid flowchart: types on the
// left, categories on the right, one curve per field coloured by how it
// is protected and dashed when it is kept without limit.
type diagram struct {
	Width, Height int
	Types, Cats   []node
	Edges         []edge
}

type node struct {
	X, Y, W, H int
	Label      string
	Sensitive  bool
}

type edge struct {
	Path, Class, Title string
	Dashed             bool
}

func protClass(prot []string) string {
	for _, p := range prot {
		if strings.HasPrefix(p, "encrypt") {
			return "encrypted"
		}
	}
	for _, p := range prot {
		if strings.HasPrefix(p, "token=") {
			return "tokenized"
		}
	}
	if len(prot) > 0 {
		return "masked"
	}
	return "clear"
}

func retentionText(r *pii.Retention) string {
	if r == nil {
		return "unlimited"
	}
	s := r.Max + " from " + r.Clock + ", then " + r.Action
	if r.Min != "" {
		s += ", min " + r.Min
	}
	if r.Grace != "" {
		s += ", grace " + r.Grace
	}
	return s
}

func layout(r *pii.Report) diagram {
	const rowH, boxH, boxW, gap = 44, 30, 240, 380
	d := diagram{Width: 2*boxW + gap + 40}
	n := max(len(r.Types), len(r.Categories), 1)
	d.Height = n*rowH + 20
	place := func(count, i int) int { // centre the shorter column
		off := (n - count) * rowH / 2
		return 10 + off + i*rowH
	}
	catIdx := map[string]int{}
	for i, c := range r.Categories {
		catIdx[c.Category] = i
		d.Cats = append(d.Cats, node{X: 20 + boxW + gap, Y: place(len(r.Categories), i), W: boxW, H: boxH, Label: c.Category, Sensitive: c.Sensitive})
	}
	for i, t := range r.Types {
		tn := node{X: 20, Y: place(len(r.Types), i), W: boxW, H: boxH, Label: t.Name}
		d.Types = append(d.Types, tn)
		for _, f := range t.Fields {
			cn := d.Cats[catIdx[f.Category]]
			x1, y1 := tn.X+tn.W, tn.Y+tn.H/2
			x2, y2 := cn.X, cn.Y+cn.H/2
			path := fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, y1, x1+gap/2, y1, x2-gap/2, y2, x2, y2)
			prot := strings.Join(f.Protection, ", ")
			if prot == "" {
				prot = "no protection"
			}
			d.Edges = append(d.Edges, edge{Path: path, Class: protClass(f.Protection), Dashed: f.Retention == nil,
				Title: fmt.Sprintf("%s.%s → %s: %s; %s", t.Name, f.Path, f.Category, prot, retentionText(f.Retention))})
		}
	}
	return d
}

func renderHTML(w io.Writer, inv *inventory) error {
	p := page{Inv: inv, Diagram: layout(inv.Report), Mermaid: inv.Mermaid(), NumTypes: len(inv.Types)}
	for _, t := range inv.Types {
		for _, f := range t.Fields {
			prot := strings.Join(f.Protection, ", ")
			if prot == "" {
				prot = "none"
			}
			p.Rows = append(p.Rows, row{Type: t.Name, Field: f.Path, Category: f.Category, Protection: prot,
				ProtClass: protClass(f.Protection), Retention: retentionText(f.Retention), Purpose: f.Purpose,
				Basis: f.Basis, Log: f.Log, Source: t.Source, Sensitive: f.Sensitive})
		}
	}
	return pageTmpl.Execute(w, p)
}
