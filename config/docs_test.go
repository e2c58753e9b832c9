package config

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docRow is one key's row of a table in docs/configuration.md.
type docRow struct {
	def   string // the default cell, "" when the table has no default column
	hasDf bool
}

// docRows reads every "| `key` | … |" row of the configuration reference,
// keyed by the first cell, with the cell under the "default" header.
func docRows(t *testing.T) map[string]docRow {
	t.Helper()
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docRow{}
	defCol := -1
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			defCol = -1
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if strings.EqualFold(cells[0], "key") {
			defCol = -1
			for i, c := range cells {
				if strings.EqualFold(c, "default") {
					defCol = i
				}
			}
			continue
		}
		key, ok := strings.CutPrefix(cells[0], "`")
		if !ok {
			continue
		}
		key, _, _ = strings.Cut(key, "`")
		r := docRow{}
		if defCol >= 0 && defCol < len(cells) {
			r = docRow{def: cells[defCol], hasDf: true}
		}
		rows[key] = r
	}
	return rows
}

// Every configuration key is documented in docs/configuration.md with its
// default, and a documented default that names a value names the real one:
// the reference cannot drift from the config struct.
func TestConfigurationReferenceDocumentsEveryKey(t *testing.T) {
	rows := docRows(t)
	def := reflect.ValueOf(Default())
	for _, key := range AllKeys() {
		row, ok := rows[key]
		if !ok {
			row, ok = templateRow(rows, key)
		}
		if !ok {
			t.Errorf("docs/configuration.md has no table row for %s", key)
			continue
		}
		if !row.hasDf || row.def == "" {
			t.Errorf("docs/configuration.md: %s has no default", key)
			continue
		}
		if err := checkDocDefault(row.def, fieldByKey(def, key)); err != nil {
			t.Errorf("docs/configuration.md: %s: %v", key, err)
		}
	}
}

// templateRow finds the row of a key documented by a pattern such as
// `grants.<grant>.timeout`, where a <placeholder> stands for one segment.
func templateRow(rows map[string]docRow, key string) (docRow, bool) {
	parts := strings.Split(key, ".")
	for pattern, row := range rows {
		pp := strings.Split(pattern, ".")
		if len(pp) != len(parts) || !strings.Contains(pattern, "<") {
			continue
		}
		match := true
		for i := range pp {
			if pp[i] != parts[i] && !strings.HasPrefix(pp[i], "<") {
				match = false
			}
		}
		if match {
			return row, true
		}
	}
	return docRow{}, false
}

func fieldByKey(v reflect.Value, key string) reflect.Value {
	for part := range strings.SplitSeq(key, ".") {
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("koanf") == part {
				v = v.Field(i)
				break
			}
		}
	}
	return v
}

// checkDocDefault compares the first `quoted` value of a default cell with
// the default. A zero default (empty, false, 0, no list) may be described in
// words ("none", "generated on first start", "`<issuer>/login`").
func checkDocDefault(cell string, v reflect.Value) error {
	if v.IsZero() {
		return nil
	}
	quoted := ""
	if _, rest, ok := strings.Cut(cell, "`"); ok {
		quoted, _, _ = strings.Cut(rest, "`")
	}
	word := strings.Fields(cell)[0]
	switch v.Kind() {
	case reflect.Bool:
		want := strconv.FormatBool(v.Bool())
		if word != want && quoted != want {
			return fmt.Errorf("documented default %q, want %s", cell, want)
		}
		return nil
	case reflect.Int64:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			if quoted == "" && v.Int() == 0 {
				return nil
			}
			d, err := time.ParseDuration(quoted)
			if quoted == "0" {
				d, err = 0, nil
			}
			if err != nil || d != time.Duration(v.Int()) {
				return fmt.Errorf("documented default %q, want %s", cell, time.Duration(v.Int()))
			}
			return nil
		}
		fallthrough
	case reflect.Int, reflect.Int32:
		if quoted == "" && v.Int() == 0 {
			return nil
		}
		if quoted != strconv.FormatInt(v.Int(), 10) {
			return fmt.Errorf("documented default %q, want %d", cell, v.Int())
		}
		return nil
	case reflect.Float64:
		if quoted == "" && v.Float() == 0 {
			return nil
		}
		if f, err := strconv.ParseFloat(quoted, 64); err != nil || f != v.Float() {
			return fmt.Errorf("documented default %q, want %v", cell, v.Float())
		}
		return nil
	case reflect.String:
		if v.String() == "" {
			return nil
		}
		if quoted != v.String() && quoted != "./"+v.String() {
			return fmt.Errorf("documented default %q, want `%s`", cell, v.String())
		}
		return nil
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		var parts []string
		for i := range v.Len() {
			parts = append(parts, fmt.Sprint(v.Index(i).Interface()))
		}
		if want := strings.Join(parts, ", "); !strings.Contains(cell, want) && quoted != "["+want+"]" {
			return fmt.Errorf("documented default %q, want %s", cell, want)
		}
		return nil
	}
	return fmt.Errorf("no rule to check a default of kind %s", v.Kind())
}
