package repl

import (
	"io"
	"testing"
)

// TestHomeEnd types "bc", Home, "a", End, "d", Enter with each terminal's
// keys, through the input and the line editor a telnet client gets.
func TestHomeEnd(t *testing.T) {
	tests := []struct {
		name string
		in   chunks
		want string
	}{
		{"xterm CSI H, CSI F", chunks{"bc\x1b[Ha\x1b[Fd\r"}, "abcd"},
		{"tmux, screen, PuTTY: CSI 1~, CSI 4~", chunks{"bc\x1b[1~a\x1b[4~d\r"}, "abcd"},
		{"rxvt: CSI 7~, CSI 8~", chunks{"bc\x1b[7~a\x1b[8~d\r"}, "abcd"},
		{"application mode: SS3 H, SS3 F", chunks{"bc\x1bOHa\x1bOFd\r"}, "abcd"},
		{"split across reads", chunks{"bc\x1b", "[", "1", "~a\x1bO", "Fd\r"}, "abcd"},
		{"application mode arrows", chunks{"ac\x1bODb\x1bOC\x1bOA\x1bOBd\r"}, "abcd"},
		{"unknown key dropped", chunks{"ab\x1b[2~cd\r"}, "abcd"},
		{"UTF-8 around keys", chunks{"é\x1b[1~à\x1b[4~ü\r"}, "àéü"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInput(&tt.in)
			in.pump()
			ed := newCharEditor(in, io.Discard, &history{})
			got, err := ed.ReadLine(promptLine)
			if err != nil {
				t.Fatalf("ReadLine: %v", err)
			}
			if got != tt.want {
				t.Errorf("line %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTranslateKeysHold(t *testing.T) {
	tests := []struct{ in, out, hold string }{
		{"abc", "abc", ""},
		{"a\x1b", "a", "\x1b"},
		{"a\x1b[", "a", "\x1b["},
		{"a\x1b[1", "a", "\x1b[1"},
		{"a\x1b[1~", "a\x1b[H", ""},
		{"a\x1b[12", "a\x1b[12", ""}, // F2's beginning: not ours, x/term's
		{"a\x1bO", "a", "\x1bO"},
		{"\x1b\x1bOH", "\x1b\x1b[H", ""},
	}
	for _, tt := range tests {
		out, hold := translateKeys([]byte(tt.in))
		if string(out) != tt.out || string(hold) != tt.hold {
			t.Errorf("translateKeys(%q) = %q, hold %q; want %q, hold %q", tt.in, out, hold, tt.out, tt.hold)
		}
	}
}
