package boottest

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func hx(s string) string { return hex.EncodeToString([]byte(s)) }

const sumA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

// goodLog is a complete, valid log with console noise around the records.
func goodLog() string {
	return strings.Join([]string{
		"SeaBIOS (version 1.16.2-debian-1.16.2-1)",
		"\x1bc\x1b[?7l\x1b[2J@@VISO-START 2.04",
		"@@VISO-DEVICE /dev/sr0",
		"@@VISO-BEGIN rr " + hx("ro,relatime,nojoliet,check=s,map=n,blocksize=2048"),
		"@@VISO-E rr d 41ed 0 0 1 1795560742 2048 - " + hx("/") + " -",
		"@@VISO-E rr f 81ed 1000 100 1 1795560742 6 " + sumA + " " + hx("/a b\nc\x01%.sh") + " -\r",
		"@@VISO-E rr l a1ff 0 0 1 1795560742 9 - " + hx("/Ünïcödé-日本語") + " " + hx("../t a"),
		"@@VISO-E rr f 8fe4 0 0 1 0 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 " + hx("/suid") + " -",
		"@@VISO-END rr 4",
		"[    3.4] ISO 9660 Extensions: RRIP_1991A",
		"@@VISO-KMSG [    3.468976] ISO 9660 Extensions: RRIP_1991A",
		"@@VISO-DONE 5.63",
		"",
	}, "\n")
}

func TestParseSerialGood(t *testing.T) {
	l, err := ParseSerial(strings.NewReader(goodLog()))
	if err != nil {
		t.Fatalf("ParseSerial: %v", err)
	}
	if l.Device != "/dev/sr0" || !l.Done || len(l.KernelLog) != 1 {
		t.Errorf("device %q done %v kmsg %q", l.Device, l.Done, l.KernelLog)
	}
	v := l.View(ViewRockRidge)
	if v == nil || len(v.Entries) != 4 {
		t.Fatalf("rr view: %+v", v)
	}
	if v.MountOptions != "ro,relatime,nojoliet,check=s,map=n,blocksize=2048" {
		t.Errorf("mount options %q", v.MountOptions)
	}
	want := []Entry{
		{Type: TypeDir, Mode: fs.ModeDir | 0o755, NLink: 1, MTime: 1795560742, Size: 2048, Path: "/"},
		{Type: TypeFile, Mode: 0o755, UID: 1000, GID: 100, NLink: 1, MTime: 1795560742, Size: 6, SHA256: sumA, Path: "/a b\nc\x01%.sh"},
		{Type: TypeSymlink, Mode: fs.ModeSymlink | 0o777, NLink: 1, MTime: 1795560742, Size: 9, Path: "/Ünïcödé-日本語", Target: "../t a"},
		{Type: TypeFile, Mode: fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o744, NLink: 1,
			SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Path: "/suid"},
	}
	for i, w := range want {
		if v.Entries[i] != w {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, v.Entries[i], w)
		}
	}
	if e, ok := v.Lookup("/Ünïcödé-日本語"); !ok || e.Target != "../t a" {
		t.Errorf("Lookup: %+v %v", e, ok)
	}
	if _, ok := v.Lookup("/missing"); ok {
		t.Error("Lookup found a missing path")
	}
}

func TestParseSerialErrors(t *testing.T) {
	entry := "@@VISO-E rr f 81a4 0 0 1 1 6 " + sumA + " " + hx("/x") + " -"
	frame := func(lines ...string) string {
		return strings.Join(append(append([]string{"@@VISO-BEGIN rr " + hx("ro")}, lines...), "@@VISO-DONE 1"), "\n")
	}
	tests := []struct {
		name string
		log  string
		want error
	}{
		{"empty log", "", ErrIncomplete},
		{"no DONE", "@@VISO-BEGIN rr 726f\n" + entry + "\n@@VISO-END rr 1\n", ErrIncomplete},
		{"view not ended", "@@VISO-BEGIN rr 726f\n" + entry + "\n@@VISO-DONE 1\n", ErrIncomplete},
		{"guest error", "@@VISO-ERROR plain " + hx("mount failed") + "\n@@VISO-DONE 1\n", ErrGuest},
		{"lost record", frame(entry, "@@VISO-END rr 2"), ErrMalformed},
		{"too few fields", frame("@@VISO-E rr f 81a4 0 0 1 1 6 "+sumA+" "+hx("/x"), "@@VISO-END rr 1"), ErrMalformed},
		{"bad hex path", frame(strings.Replace(entry, hx("/x"), "2fz", 1), "@@VISO-END rr 1"), ErrMalformed},
		{"relative path", frame(strings.Replace(entry, hx("/x"), hx("x"), 1), "@@VISO-END rr 1"), ErrMalformed},
		{"type vs mode", frame(strings.Replace(entry, " f 81a4", " d 81a4", 1), "@@VISO-END rr 1"), ErrMalformed},
		{"short sha", frame(strings.Replace(entry, sumA, sumA[:63], 1), "@@VISO-END rr 1"), ErrMalformed},
		{"sha on dir", frame(strings.Replace(entry, " f 81a4", " d 41ed", 1), "@@VISO-END rr 1"), ErrMalformed},
		{"target on file", frame(strings.TrimSuffix(entry, "-")+"2f", "@@VISO-END rr 1"), ErrMalformed},
		{"negative size", frame(strings.Replace(entry, " 6 ", " -6 ", 1), "@@VISO-END rr 1"), ErrMalformed},
		{"entry of other view", frame(strings.Replace(entry, "E rr", "E joliet", 1), "@@VISO-END rr 0"), ErrMalformed},
		{"entry outside view", entry + "\n@@VISO-DONE 1", ErrMalformed},
		{"nested BEGIN", frame("@@VISO-BEGIN joliet 726f"), ErrMalformed},
		{"duplicate view", frame("@@VISO-END rr 0", "@@VISO-BEGIN rr 726f"), ErrMalformed},
		{"unknown record", "@@VISO-FOO 1\n@@VISO-DONE 1", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSerial(strings.NewReader(tc.log))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	tests := []struct {
		raw  uint32
		want fs.FileMode
	}{
		{0o100644, 0o644},
		{0o040555, fs.ModeDir | 0o555},
		{0o120777, fs.ModeSymlink | 0o777},
		{0o020620, fs.ModeDevice | fs.ModeCharDevice | 0o620},
		{0o060660, fs.ModeDevice | 0o660},
		{0o010644, fs.ModeNamedPipe | 0o644},
		{0o140755, fs.ModeSocket | 0o755},
		{0o106755, fs.ModeSetuid | fs.ModeSetgid | 0o755},
	}
	for _, tc := range tests {
		if got := fileMode(tc.raw); got != tc.want {
			t.Errorf("fileMode(%o) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}
