package dbtest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// Catalog is the schema of db as normalized text, the same for two
// databases exactly when their tables, columns (in order, with type,
// nullability and default), primary and foreign keys, indexes (with any
// partial predicate), sequences and views (columns and definition) are:
// what a fresh database and an upgraded one must agree on. One block per
// object, by name; SQL text has its whitespace and comments collapsed.
func Catalog(t testing.TB, db *gorm.DB) string {
	t.Helper()
	text, err := CatalogOf(db)
	if err != nil {
		t.Fatalf("read the catalog: %v", err)
	}
	return text
}

// CatalogOf is Catalog outside a test (cmd/catalog).
func CatalogOf(db *gorm.DB) (string, error) {
	objects := map[string][]string{}
	var err error
	if db.Dialector.Name() == "postgres" {
		err = postgresCatalog(db, objects)
	} else {
		err = sqliteCatalog(db, objects)
	}
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(objects))
	for name := range objects {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name + "\n")
		for _, line := range objects[name] {
			b.WriteString("\t" + line + "\n")
		}
	}
	return b.String(), nil
}

func sqliteCatalog(db *gorm.DB, objects map[string][]string) error {
	var master []struct{ Type, Name, TblName, SQL string }
	err := db.Raw(`SELECT type, name, tbl_name, COALESCE(sql, '') AS sql FROM sqlite_master
		WHERE name NOT LIKE 'sqlite_%' ORDER BY name`).Scan(&master).Error
	if err != nil {
		return err
	}
	for _, m := range master {
		key := m.Type + " " + m.Name
		switch m.Type {
		case "table", "view":
			var cols []struct {
				Name, Type string
				NotNull    int
				Dflt       *string `gorm:"column:dflt_value"`
				PK         int
			}
			if err := db.Raw("SELECT name, type, \"notnull\" AS not_null, dflt_value, pk FROM pragma_table_info(?)", m.Name).Scan(&cols).Error; err != nil {
				return err
			}
			for _, c := range cols {
				objects[key] = append(objects[key], column(c.Name, c.Type, c.NotNull == 1, c.Dflt)+pkPart(c.PK))
			}
			if m.Type == "view" {
				objects[key] = append(objects[key], "definition "+collapse(m.SQL))
				continue
			}
			if strings.Contains(strings.ToUpper(m.SQL), "AUTOINCREMENT") {
				objects[key] = append(objects[key], "autoincrement")
			}
			var fks []struct {
				ID, Seq                   int
				Table, From, To           string
				OnUpdate, OnDelete, Match string
			}
			if err := db.Raw(`SELECT id, seq, "table", "from", "to", on_update, on_delete, "match" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, m.Name).Scan(&fks).Error; err != nil {
				return err
			}
			for _, fk := range fks {
				objects[key] = append(objects[key], fmt.Sprintf("foreign key %d.%d (%s) references %s (%s) on update %s on delete %s match %s",
					fk.ID, fk.Seq, fk.From, fk.Table, fk.To, fk.OnUpdate, fk.OnDelete, fk.Match))
			}
			var idx []struct {
				Name    string
				Unique  int
				Origin  string
				Partial int
			}
			if err := db.Raw(`SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name`, m.Name).Scan(&idx).Error; err != nil {
				return err
			}
			for _, ix := range idx {
				var cols []string
				if err := db.Raw("SELECT COALESCE(name, '(expression)') FROM pragma_index_info(?) ORDER BY seqno", ix.Name).Scan(&cols).Error; err != nil {
					return err
				}
				objects[key] = append(objects[key], fmt.Sprintf("index %s (%s) unique=%d origin=%s partial=%d",
					ix.Name, strings.Join(cols, ", "), ix.Unique, ix.Origin, ix.Partial))
			}
		case "index":
			// The whole statement, for a partial index's predicate.
			if m.SQL != "" {
				objects["table "+m.TblName] = append(objects["table "+m.TblName], "index "+m.Name+" sql "+collapse(m.SQL))
			}
		default: // triggers
			objects[key] = append(objects[key], "on "+m.TblName, "definition "+collapse(m.SQL))
		}
	}
	return nil
}

func postgresCatalog(db *gorm.DB, objects map[string][]string) error {
	var rels []struct{ Name, Kind string }
	err := db.Raw(`SELECT c.relname AS name, c.relkind AS kind FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'S', 'p')`).Scan(&rels).Error
	if err != nil {
		return err
	}
	kinds := map[string]string{"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence"}
	key := map[string]string{}
	for _, r := range rels {
		key[r.Name] = kinds[r.Kind] + " " + r.Name
		objects[key[r.Name]] = nil
	}
	var cols []struct {
		Rel, Name, Type string
		NotNull         bool
		Dflt            *string
	}
	err = db.Raw(`SELECT c.relname AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
			a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS dflt
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`).Scan(&cols).Error
	if err != nil {
		return err
	}
	for _, c := range cols {
		objects[key[c.Rel]] = append(objects[key[c.Rel]], column(c.Name, c.Type, c.NotNull, c.Dflt))
	}
	var cons []struct{ Rel, Name, Type, Def string }
	err = db.Raw(`SELECT c.relname AS rel, con.conname AS name, con.contype AS type, pg_get_constraintdef(con.oid, true) AS def
		FROM pg_constraint con
		JOIN pg_class c ON c.oid = con.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema()
		ORDER BY c.relname, con.contype, con.conname`).Scan(&cons).Error
	if err != nil {
		return err
	}
	for _, c := range cons {
		if c.Type == "n" { // NOT NULL as a constraint (PostgreSQL 18): the column says it
			continue
		}
		objects[key[c.Rel]] = append(objects[key[c.Rel]], "constraint "+c.Name+" "+c.Def)
	}
	var idx []struct{ Rel, Name, Def string }
	err = db.Raw(`SELECT tablename AS rel, indexname AS name, indexdef AS def FROM pg_indexes
		WHERE schemaname = current_schema() ORDER BY tablename, indexname`).Scan(&idx).Error
	if err != nil {
		return err
	}
	for _, ix := range idx {
		objects[key[ix.Rel]] = append(objects[key[ix.Rel]], "index "+ix.Name+" "+ix.Def)
	}
	var views []struct{ Name, Def string }
	err = db.Raw(`SELECT viewname AS name, pg_get_viewdef(format('%I.%I', schemaname, viewname)::regclass, true) AS def
		FROM pg_views WHERE schemaname = current_schema() ORDER BY viewname`).Scan(&views).Error
	if err != nil {
		return err
	}
	for _, v := range views {
		objects[key[v.Name]] = append(objects[key[v.Name]], "definition "+collapse(v.Def))
	}
	var seqs []struct {
		Name, Type, Owner string
		Start, Step       int64
	}
	err = db.Raw(`SELECT s.sequencename AS name, s.data_type::text AS type, s.start_value AS start, s.increment_by AS step,
			COALESCE((SELECT t.relname || '.' || a.attname FROM pg_depend d
				JOIN pg_class t ON t.oid = d.refobjid
				JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
				WHERE d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass AND d.deptype IN ('a', 'i')), '') AS owner
		FROM pg_sequences s WHERE s.schemaname = current_schema()`).Scan(&seqs).Error
	if err != nil {
		return err
	}
	for _, s := range seqs {
		objects[key[s.Name]] = append(objects[key[s.Name]], fmt.Sprintf("%s start %d increment %d owned by %s", s.Type, s.Start, s.Step, s.Owner))
	}
	return nil
}

func column(name, typ string, notNull bool, dflt *string) string {
	s := strings.TrimSpace("column " + name + " " + typ)
	if notNull {
		s += " not null"
	}
	if dflt != nil {
		s += " default " + *dflt
	}
	return s
}

func pkPart(pk int) string {
	if pk > 0 {
		return fmt.Sprintf(" primary key %d", pk)
	}
	return ""
}

// collapse is SQL text without comments and with each run of white space
// one space.
func collapse(sql string) string {
	var lines []string
	for _, line := range strings.Split(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		lines = append(lines, line)
	}
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
}
