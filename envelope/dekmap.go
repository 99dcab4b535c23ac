package envelope

import "slices"

// dekMap holds unwrapped DEKs by what names them, indexed by scope too, so
// a ForgetSubject drops a subject's entries without scanning every cached
// key (a scan held the write lock for milliseconds with 100,000 keys
// cached, once per subject a sweep forgot). Every change goes through its
// methods, which keep the index equal to the map.
type dekMap struct {
	m       map[dekRef]*dekEntry
	byScope map[scopeRef][]uint32 // the ids of each scope's entries in m
}

func newDEKMap() dekMap {
	return dekMap{m: map[dekRef]*dekEntry{}, byScope: map[scopeRef][]uint32{}}
}

func (d *dekMap) get(ref dekRef) *dekEntry { return d.m[ref] }

func (d *dekMap) len() int { return len(d.m) }

// put makes e the entry of e.ref, replacing any other.
func (d *dekMap) put(e *dekEntry) {
	if _, ok := d.m[e.ref]; !ok {
		sr := scopeRef{e.ref.tenant, e.ref.subject}
		d.byScope[sr] = append(d.byScope[sr], e.ref.id)
	}
	d.m[e.ref] = e
}

// del removes ref's entry and returns it (nil if there was none).
func (d *dekMap) del(ref dekRef) *dekEntry {
	e, ok := d.m[ref]
	if !ok {
		return nil
	}
	delete(d.m, ref)
	sr := scopeRef{ref.tenant, ref.subject}
	ids := slices.DeleteFunc(d.byScope[sr], func(id uint32) bool { return id == ref.id })
	if len(ids) == 0 {
		delete(d.byScope, sr)
	} else {
		d.byScope[sr] = ids
	}
	return e
}

// delScope removes every entry of sr, calling drop on each.
func (d *dekMap) delScope(sr scopeRef, drop func(*dekEntry)) {
	for _, id := range d.byScope[sr] {
		ref := dekRef{sr.tenant, sr.subject, id}
		drop(d.m[ref])
		delete(d.m, ref)
	}
	delete(d.byScope, sr)
}

// delIf removes every entry for which cond holds, calling drop on each.
func (d *dekMap) delIf(cond func(*dekEntry) bool, drop func(*dekEntry)) {
	for ref, e := range d.m {
		if cond(e) {
			d.del(ref)
			drop(e)
		}
	}
}

// trim deletes arbitrary entries once it holds limit or more, down to 90%
// of limit, calling drop on each.
func (d *dekMap) trim(limit int, drop func(*dekEntry)) {
	if len(d.m) < limit {
		return
	}
	for ref, e := range d.m {
		d.del(ref)
		drop(e)
		if len(d.m) < limit*9/10 {
			return
		}
	}
}

// retire marks a forgotten scope's entry spent (a caller still holding it
// cannot take it for a new seal) and clears its key.
func retire(e *dekEntry) {
	e.spent.Store(true)
	e.key.wipe()
}
