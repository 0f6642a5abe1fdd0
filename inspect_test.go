package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"translucent/namespace"
	"translucent/repl"
)

// inspectFixture writes a snapshot file of two sessions, one with a
// namespace of the kinds of values inspect shows, one that evaluated
// nothing, and returns its path.
func inspectFixture(t *testing.T) string {
	t.Helper()
	ns := namespace.New(namespace.Options{Version: "test"})
	t.Cleanup(ns.Close)
	for _, src := range []string{
		`import ("errors"; str "strconv"; "time")`,
		"type Point struct{ X, Y int }", "p := Point{1, 2}", "pp := &p",
		"type Node struct{ V int; Next *Node }", "n := &Node{V: 1}", "n.Next = n",
		"s1 := []int{1, 2, 3}", "s2 := s1", `m := map[string]int{"b": 2, "a": 1}`,
		"func add(a, b int) int {\n\treturn a + b\n}",
		`e := errors.New("boom")`, "tm := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)",
		"var v any = Point{3, 4}", "ch := make(chan int)", `label := str.Itoa(7) + "\x1b[2J"`,
	} {
		if _, err := ns.Eval(context.Background(), src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	snap, lost, err := ns.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &repl.SnapshotFile{
		Format: repl.SnapshotFormat, Version: repl.SnapshotFileVersion, Taken: since.Add(time.Hour),
		Pid: 4242, ServerVersion: "v1 (go1.x)",
		Sessions: []repl.SessionState{
			{Version: repl.StateVersion, ID: 1, User: "alice", Since: since, Addr: "127.0.0.1:40312", Namespace: &snap, Lost: lost},
			{Version: repl.StateVersion, ID: 2, User: "bob", Since: since, Addr: "127.0.0.1:40313"},
		},
	}
	var b bytes.Buffer
	if err := repl.WriteSnapshotFile(&b, f); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.snap")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runInspect(t *testing.T, stdin []byte, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := inspectCmd(args, bytes.NewReader(stdin), &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return stdout.String(), err
}

func TestInspectText(t *testing.T) {
	path := inspectFixture(t)
	out, err := runInspect(t, nil, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out)
	for _, want := range []string{
		"snapshot taken 2024-03-01 13:00:00 UTC from pid 4242 (v1 (go1.x)), 2 sessions\n",
		"session 1: alice from 127.0.0.1:40312, since 2024-03-01 12:00:00 UTC\n",
		"  imports:\n    \"errors\"\n    str \"strconv\"\n    \"time\"\n",
		"    func add(a, b int) int {\n        return a + b\n    }\n",
		"session 2: bob from 127.0.0.1:40313, since 2024-03-01 12:00:00 UTC\n  nothing evaluated yet\n",
		"  not carried (these arrive at their zero value, or in part):\n    ch (chan int): channels cannot be carried",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The variables, aligned: NAME TYPE VALUE.
	for _, re := range []string{
		`\n    NAME +TYPE +VALUE\n`,
		`\n    p +Point +Point\{X: 1, Y: 2\}\n`,
		`\n    pp +\*Point +&p\n`,
		`\n    n +\*Node +#(\d+)=&Node\{V: 1, Next: <cycle: #(\d+)>\}\n`,
		`\n    s1 +\[\]int +#(\d+)=\[\]int\{1, 2, 3\}\n`,
		`\n    m +map\[string\]int +map\[string\]int\{"a": 1, "b": 2\}\n`,
		`\n    e +error +errors.New\("boom"\)\n`,
		`\n    tm +time.Time +2024-02-29 13:14:15 \+0000 UTC\n`,
		`\n    v +interface\{\} +Point\{X: 3, Y: 4\}\n`,
		`\n    ch +chan int +nil   \(not carried\)\n`,
		`\n    label +string +"7\\x1b\[2J"\n`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s", re)
		}
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Error("an escape character from the file reached the output")
	}
	// One session, from standard input.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err = runInspect(t, data, "--session", "2", "-")
	if err != nil || strings.Contains(out, "alice") || !strings.Contains(out, "session 2: bob") {
		t.Errorf("--session 2 -: %v\n%s", err, out)
	}
	if _, err := runInspect(t, nil, "--session", "9", path); err == nil || !strings.Contains(err.Error(), "no session 9 in the snapshot (it has 1, 2)") {
		t.Errorf("--session 9: %v", err)
	}
}

func TestInspectDOT(t *testing.T) {
	path := inspectFixture(t)
	out, err := runInspect(t, nil, path, "--dot") // flags after the file too
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "digraph translucent {\n") || !strings.HasSuffix(out, "}\n") {
		t.Errorf("not one digraph:\n%s", out)
	}
	depth, inString := 0, false
	for k := 0; k < len(out); k++ {
		switch c := out[k]; {
		case inString && c == '\\':
			k++
		case c == '"':
			inString = !inString
		case !inString && c == '{':
			depth++
		case !inString && c == '}':
			depth--
		}
	}
	if depth != 0 || inString {
		t.Errorf("braces or quotes do not balance (%d, %v):\n%s", depth, inString, out)
	}
	for _, want := range []string{
		`subgraph "cluster_s1" {`, `label="session 1: alice from 127.0.0.1:40312";`,
		`subgraph "cluster_s2" {`, `nothing evaluated yet`, `"s1_lost" [shape=note`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("DOT lacks %s", want)
		}
	}
	// pp's edge goes into p's node; s1 and s2 go into one node; n's node
	// loops.
	edges := regexp.MustCompile(`"(s1_\w+)" -> "(s1_\w+)"( \[label="(\w+)"\])?`).FindAllStringSubmatch(out, -1)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`"(s1_v\d+)" \[[^\n]*label="(\w+) `).FindAllStringSubmatch(out, -1) {
		vars[m[2]] = m[1]
	}
	into := map[string][]string{}
	loop := false
	for _, e := range edges {
		into[e[2]] = append(into[e[2]], e[1])
		loop = loop || e[1] == e[2] && e[4] == "Next"
	}
	if got := into[vars["p"]]; len(got) != 1 || got[0] != vars["pp"] {
		t.Errorf("edges into p (%s): from %v, want from pp (%s)", vars["p"], got, vars["pp"])
	}
	shared := 0
	for _, from := range into {
		if len(from) == 2 && strings.Join(from, " ") == vars["s1"]+" "+vars["s2"] {
			shared++
		}
	}
	if shared != 1 || !loop {
		t.Errorf("shared slice nodes: %d, a loop: %v\n%s", shared, loop, out)
	}
	if dot, err := exec.LookPath("dot"); err == nil {
		cmd := exec.Command(dot, "-Tsvg", "-o", "/dev/null")
		cmd.Stdin = strings.NewReader(out)
		if msg, err := cmd.CombinedOutput(); err != nil || len(msg) > 0 {
			t.Errorf("dot -Tsvg: %v\n%s", err, msg)
		}
	}
}

func TestInspectJSON(t *testing.T) {
	out, err := runInspect(t, nil, "--json", inspectFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Pid != 4242 || len(r.Sessions) != 2 || !r.Sessions[1].Empty || r.Sessions[0].Graph == nil {
		t.Fatalf("report: %+v", r)
	}
	s := r.Sessions[0]
	values := map[string]namespace.VarDescription{}
	for _, v := range s.Vars {
		values[v.Name] = v
	}
	if v := values["pp"]; v.Value != "&p" || strings.Join(v.Shares, ",") != "p" {
		t.Errorf("pp: %+v", v)
	}
	if v := values["ch"]; v.Carried || len(s.NotCarried) != 1 {
		t.Errorf("ch: %+v, not carried: %v", v, s.NotCarried)
	}
	if len(s.Graph.Nodes) == 0 || len(s.Graph.Edges) == 0 {
		t.Errorf("graph: %+v", s.Graph)
	}
	// The field names are the contract with tools.
	for _, key := range []string{`"serverVersion"`, `"notCarried"`, `"declarations"`, `"carried"`, `"edges"`} {
		if !strings.Contains(out, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestInspectBadFiles(t *testing.T) {
	data, err := os.ReadFile(inspectFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "corrupt or truncated", data[:len(data)/2]},
		{"garbage", "not a translucent snapshot file", []byte("#!/bin/sh\necho hello\n")},
		{"empty", "empty file", nil},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{path}, {"--dot", path}, {"--json", path}} {
			out, err := runInspect(t, nil, args...)
			if err == nil || !strings.Contains(err.Error(), c.want) || out != "" {
				t.Errorf("%s %v: %v (output %q), want an error containing %q", c.name, args, err, out, c.want)
			}
		}
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"--dot", "--json", "f"}} {
		if _, err := runInspect(t, nil, args...); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%v: %v, want the usage", args, err)
		}
	}
	if _, err := runInspect(t, nil, filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v", err)
	}
}
