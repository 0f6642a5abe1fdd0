package namespace

import (
	"errors"
	"image"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFormatValues(t *testing.T) {
	type node struct {
		V    int
		Next *node
	}
	cyclic := &node{V: 1}
	cyclic.Next = cyclic
	point := reflect.TypeOf(struct{ X, Y int }{})
	types := map[reflect.Type]*typeInfo{point: {name: "Point", typ: point, fields: []string{"X", "Y"}}}

	for _, tc := range []struct {
		name string
		vals []interface{}
		want string
	}{
		{"nil", []interface{}{nil}, "nil"},
		{"two results", []interface{}{3, nil}, "(3, nil)"},
		{"no results", nil, "()"},
		{"string", []interface{}{"a\"b"}, `"a\"b"`},
		{"float", []interface{}{2.5e10}, "2.5e+10"},
		{"error", []interface{}{errors.New("bad")}, `errors.New("bad")`},
		{"nil pointer", []interface{}{(*int)(nil)}, "nil"},
		{"nil map", []interface{}{map[string]int(nil)}, "map[string]int(nil)"},
		{"duration", []interface{}{1500 * time.Millisecond}, "1.5s"},
		{"library struct", []interface{}{image.Rectangle{}.Min.Sub(image.Point{})}, "(0,0)"},
		{"library struct without String", []interface{}{struct{ image.Point }{}}, "{Point:(0,0)}"},
		{"declared struct", []interface{}{struct{ X, Y int }{1, 2}}, "Point{X:1, Y:2}"},
		{"declared in slice", []interface{}{[]struct{ X, Y int }{{1, 2}}}, "[]Point{{X:1, Y:2}}"},
		{"pointer to declared", []interface{}{&struct{ X, Y int }{1, 2}}, "&Point{X:1, Y:2}"},
		{"map of slices", []interface{}{map[int][]string{2: {"b"}, 1: nil}}, `map[int][]string{1:[]string(nil), 2:{"b"}}`},
		{"library cycle", []interface{}{cyclic}, "&namespace.node{V:1, Next:(*namespace.node)("},
		{"long", []interface{}{make([]int, maxElems+5)}, ", ... (5 more)}"},
		{"bytes", []interface{}{[]byte("hi\n")}, `[]byte("hi\n")`},
		{"binary bytes", []interface{}{[]byte{0xff}}, "[]uint8{255}"},
	} {
		got := formatValues(types, tc.vals, itype{})
		if !strings.Contains(got, tc.want) || !strings.Contains(tc.want, "(") && got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFormatPanic(t *testing.T) {
	for _, tc := range []struct {
		v    interface{}
		want string
	}{
		{"boom", "boom"},
		{errors.New("e"), "e"},
		{reflect.ValueOf(7), "7"},
		{[]int{1}, "[]int{1}"},
	} {
		if got := formatPanic(tc.v); got != tc.want {
			t.Errorf("formatPanic(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		name          string
		s             string
		width, height int
		want          string
	}{
		{"fits", "[]int{1, 2}", 80, 24, "[]int{1, 2}"},
		{"no width known", strings.Repeat("x", 200), 0, 0, strings.Repeat("x", 200)},
		{"breaks after a comma", "[]int{1, 2, 3, 4}", 12, 24, "[]int{1, 2,\n3, 4}"},
		{"breaks mid-token without a comma", `"abcdefghij"`, 5, 24, "\"abcd\nefghi\nj\""},
		{"cut short", "[]int{1, 2, 3, 4, 5, 6, 7, 8}", 12, 2, "[]int{1, 2,\n… (17 more bytes)"},
		{"runes", "ééééé", 2, 24, "éé\néé\né"},
	} {
		if got := Fit(tc.s, tc.width, tc.height); got != tc.want {
			t.Errorf("%s: Fit(%q, %d, %d) = %q, want %q", tc.name, tc.s, tc.width, tc.height, got, tc.want)
		}
	}
}
