package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSemverLess(t *testing.T) {
	ordered := []string{"", "0.9.1", "0.12.4", "1.26.9", "1.26.10", "1.27.0-0", "1.27.0-rc.1", "1.27.0", "1.27.0.1"}
	for i, a := range ordered {
		for j, b := range ordered {
			if got, want := semverLess(a, b), i < j; got != want {
				t.Errorf("semverLess(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}

// TestBuild lays out a database from two entries and reads back the index
// that govulncheck consults: each module with its entries, and the highest
// fixing version of each.
func TestBuild(t *testing.T) {
	osv, out := t.TempDir(), t.TempDir()
	entries := map[string]string{
		"GO-2026-0001": `{"id":"GO-2026-0001","modified":"2026-01-02T00:00:00Z","affected":[
			{"package":{"name":"stdlib"},"ranges":[{"events":[{"introduced":"0"},{"fixed":"1.26.9"},{"introduced":"1.27.0-0"},{"fixed":"1.27.2"}]}]},
			{"package":{"name":"example.com/m"},"ranges":[{"events":[{"introduced":"0"}]}]}]}`,
		"GO-2026-0002": `{"id":"GO-2026-0002","modified":"2026-03-04T00:00:00Z","affected":[
			{"package":{"name":"stdlib"},"ranges":[{"events":[{"introduced":"0"},{"fixed":"1.25.10"}]}]}]}`,
	}
	for id, body := range entries {
		if err := os.WriteFile(filepath.Join(osv, id+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := build(osv, out); err != nil {
		t.Fatal(err)
	}
	var index []module
	readJSON(t, filepath.Join(out, "index", "modules.json"), &index)
	got := map[string][]string{}
	for _, m := range index {
		for _, v := range m.Vulns {
			got[m.Path] = append(got[m.Path], v.ID+" "+v.Fixed)
		}
	}
	want := map[string][]string{
		"example.com/m": {"GO-2026-0001 "},
		"stdlib":        {"GO-2026-0001 1.27.2", "GO-2026-0002 1.25.10"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("index = %v, want %v", got, want)
	}
	var db struct{ Modified string }
	readJSON(t, filepath.Join(out, "index", "db.json"), &db)
	if db.Modified != "2026-03-04T00:00:00Z" {
		t.Errorf("db.json modified = %q, want the newest entry's", db.Modified)
	}
	for id, body := range entries {
		b, err := os.ReadFile(filepath.Join(out, "ID", id+".json"))
		if err != nil || string(b) != body {
			t.Errorf("ID/%s.json = %q, %v; want the entry as published", id, b, err)
		}
	}
}

func TestBuildRefusesMisnamedEntry(t *testing.T) {
	osv := t.TempDir()
	if err := os.WriteFile(filepath.Join(osv, "GO-2026-0001.json"), []byte(`{"id":"GO-2026-0002"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := build(osv, t.TempDir()); err == nil {
		t.Fatal("an entry in a file named after another id was accepted")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
