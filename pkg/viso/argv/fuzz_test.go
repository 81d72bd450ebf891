package argv

import (
	"reflect"
	"strings"
	"testing"
)

// checkSplitProperties asserts what must hold for any input of either dialect: no
// panic, every line within the input, and an exact Join/Split round trip.
func checkSplitProperties(t *testing.T, in string, q Quoting) {
	args := Split(in, q)
	lines := strings.Count(in, "\n") + 1
	texts := make([]string, len(args))
	for i, a := range args {
		if a.Line < 1 || a.Line > lines {
			t.Fatalf("%v: argument %d %q has line %d, input has %d lines", q, i, a.Text, a.Line, lines)
		}
		if i > 0 && a.Line < args[i-1].Line {
			t.Fatalf("%v: line numbers go backwards at argument %d: %d after %d", q, i, a.Line, args[i-1].Line)
		}
		texts[i] = a.Text
	}
	joined := Join(texts, q)
	again := Split(joined, q)
	got := make([]string, len(again))
	for i, a := range again {
		got[i] = a.Text
	}
	if len(got) != 0 || len(texts) != 0 {
		if !reflect.DeepEqual(got, texts) {
			t.Fatalf("%v: round trip of %q via %q gave %q", q, texts, joined, got)
		}
	}
	// A joined line holds no line break outside arguments, so lines must match the
	// line breaks inside the preceding arguments.
	want := 1
	for i, a := range again {
		if a.Line != want {
			t.Fatalf("%v: rejoined argument %d starts on line %d, want %d", q, i, a.Line, want)
		}
		want += strings.Count(a.Text, "\n")
	}
}

func seedSplit(f *testing.F, cases []splitCase) {
	for _, tc := range cases {
		f.Add(tc.in)
	}
	for _, a := range roundTripArgs {
		f.Add(a)
	}
}

func FuzzSplitBourne(f *testing.F) {
	seedSplit(f, bourneCases)
	f.Fuzz(func(t *testing.T, in string) { checkSplitProperties(t, in, Bourne) })
}

func FuzzSplitMSCRT(f *testing.F) {
	seedSplit(f, msCases)
	f.Fuzz(func(t *testing.T, in string) { checkSplitProperties(t, in, MSCRT) })
}
