package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/csi-viso/csi-viso/pkg/viso"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
	"github.com/csi-viso/csi-viso/pkg/viso/isomaker"
)

// inspectReport is the JSON form of `csi-viso inspect --json`. The keys are part of
// the CLI contract (architecture doc); later layers add image facts beside them.
type inspectReport struct {
	File       string                `json:"file"`
	UUID       string                `json:"uuid"`
	Quoting    string                `json:"quoting"`
	Args       []argv.Arg            `json:"args"`
	Operations []isomaker.Operation  `json:"operations"`
	ElTorito   *isomaker.BootCatalog `json:"elTorito,omitempty"`

	// Image facts, present when the image could be laid out.
	Size        *int64          `json:"size,omitempty"`
	VolumeID    *string         `json:"volumeId,omitempty"`
	BootEntries []bootEntryJSON `json:"bootEntries,omitempty"`
	Files       []fileJSON      `json:"files,omitempty"`
}

type bootEntryJSON struct {
	Platform      string `json:"platform"`
	Emulation     string `json:"emulation"`
	Image         string `json:"image"`
	Bootable      bool   `json:"bootable"`
	LoadSegment   uint16 `json:"loadSegment"`
	LoadSize      uint16 `json:"loadSize"`
	BootInfoTable bool   `json:"bootInfoTable"`
	LBA           uint32 `json:"lba"`
}

type fileJSON struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Mode string `json:"mode"`
}

// platformName names El Torito platform ids the way users know them.
func platformName(id uint8) string {
	switch id {
	case 0:
		return "x86"
	case 1:
		return "PPC"
	case 2:
		return "Mac"
	case 0xEF:
		return "efi"
	}
	return fmt.Sprintf("0x%02x", id)
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", "inspect FILE.viso [--json] [--media-root DIR]...", stderr)
	asJSON := fs.Bool("json", false, "print a JSON document instead of text")
	var roots multiFlag
	fs.Var(&roots, "media-root", "folder absolute source paths may point into (repeatable; default: the VISO's folder)")
	mf := addMediaFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: inspect takes exactly one FILE.viso", errUsage)
	}
	path := pos[0]
	res, err := viso.NewResolver(path, roots)
	if err != nil {
		return err
	}
	defer res.Close()
	if err := mf.apply(context.Background(), res, stderr); err != nil {
		return err
	}

	doc, perr := viso.ParseFile(path, res)
	if doc == nil {
		return perr
	}
	rep := inspectReport{
		File:       path,
		UUID:       doc.Envelope.UUID.String(),
		Quoting:    doc.Envelope.Quoting.String(),
		Args:       doc.Envelope.Args,
		Operations: []isomaker.Operation{},
	}
	var layoutErr error
	if doc.Plan != nil {
		rep.Operations = doc.Plan.Operations
		rep.ElTorito = doc.Plan.ElTorito
		img, err := doc.Build(res)
		if err != nil {
			layoutErr = err
		} else {
			addImageFacts(&rep, img.Image)
			img.Close()
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printInspect(stdout, rep)
	}
	if perr != nil {
		return perr
	}
	return layoutErr
}

func addImageFacts(rep *inspectReport, img *isoimage.Image) {
	size, vol := img.Size(), img.VolumeID()
	rep.Size, rep.VolumeID = &size, &vol
	for _, e := range img.BootEntries() {
		rep.BootEntries = append(rep.BootEntries, bootEntryJSON{
			Platform: platformName(e.Platform), Emulation: e.Emulation.String(), Image: e.Image,
			Bootable: e.Bootable, LoadSegment: e.LoadSegment, LoadSize: e.LoadSize,
			BootInfoTable: e.BootInfoTable, LBA: e.LBA,
		})
	}
	rep.Files = []fileJSON{}
	for _, f := range img.Files() {
		rep.Files = append(rep.Files, fileJSON{Path: f.Path, Size: f.Size, Mode: fmt.Sprintf("%04o", f.Mode)})
	}
}

func printInspect(w io.Writer, rep inspectReport) {
	fmt.Fprintf(w, "file:     %s\nuuid:     %s\nquoting:  %s\n", rep.File, rep.UUID, rep.Quoting)
	fmt.Fprintf(w, "arguments (%d):\n", len(rep.Args))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range rep.Args {
		fmt.Fprintf(tw, "  line %d\t%s\n", a.Line, shellQuote(a.Text))
	}
	tw.Flush()
	fmt.Fprintf(w, "operations (%d):\n", len(rep.Operations))
	for _, op := range rep.Operations {
		where := fmt.Sprintf("line %d", op.Line)
		if op.File != "" {
			where = fmt.Sprintf("%s:%d", op.File, op.Line)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", where, op.Kind, describeOp(op))
	}
	tw.Flush()
	if rep.Size != nil {
		fmt.Fprintf(w, "image:    %d bytes (%d sectors), volume id %q\n", *rep.Size, *rep.Size/2048, *rep.VolumeID)
		for i, e := range rep.BootEntries {
			fmt.Fprintf(tw, "  boot entry %d\t%s\t%s\t%s, load size %d, LBA %d", i+1, e.Platform, e.Emulation, e.Image, e.LoadSize, e.LBA)
			if e.BootInfoTable {
				fmt.Fprint(tw, ", boot info table")
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		fmt.Fprintf(w, "files (%d):\n", len(rep.Files))
		for _, f := range rep.Files {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", f.Mode, f.Size, f.Path)
		}
		tw.Flush()
		return
	}
	if cat := rep.ElTorito; cat != nil {
		fmt.Fprintf(w, "El Torito catalog (validation platform 0x%02x):\n", cat.Platform)
		if cat.Default != nil {
			fmt.Fprintf(tw, "  default\t%s\n", describeEntry(*cat.Default, rep.Operations))
		}
		for i, s := range cat.Sections {
			for _, e := range s.Entries {
				fmt.Fprintf(tw, "  section %d (platform 0x%02x)\t%s\n", i+1, s.Platform, describeEntry(e, rep.Operations))
			}
		}
		tw.Flush()
	}
}

// describeOp renders the fields an operation kind uses, for humans.
func describeOp(op isomaker.Operation) string {
	var parts []string
	if op.Level != nil {
		parts = append(parts, fmt.Sprintf("level %d", *op.Level))
	}
	if op.Style != "" {
		parts = append(parts, string(op.Style))
	}
	if op.Mode != nil {
		parts = append(parts, "mode "+op.Mode.String())
	}
	if op.AddBits != nil {
		parts = append(parts, "add bits "+op.AddBits.String())
	}
	if op.ID != nil {
		parts = append(parts, fmt.Sprintf("id %d", *op.ID))
	}
	if op.Field != "" {
		v := "(default)"
		if op.Value != nil && *op.Value != "" {
			v = fmt.Sprintf("%q", *op.Value)
		}
		parts = append(parts, fmt.Sprintf("%s = %s", op.Field, v))
	}
	if len(op.Names) > 0 {
		names := make([]string, len(op.Names))
		for i, n := range op.Names {
			if n == "" {
				n = "(none)"
			}
			names[i] = n
		}
		parts = append(parts, strings.Join(names, " | "))
	}
	if op.Source != "" {
		parts = append(parts, "<- "+op.Source)
	}
	if op.Path != "" {
		parts = append(parts, op.Path)
	}
	if op.Variant != "" && op.Variant != isomaker.PushAll {
		parts = append(parts, "("+string(op.Variant)+")")
	}
	if op.SkipElTorito {
		parts = append(parts, "(without El Torito)")
	}
	for _, p := range op.Positions {
		ns := make([]string, len(p.Namespaces))
		for i, n := range p.Namespaces {
			ns[i] = string(n)
		}
		parts = append(parts, "["+strings.Join(ns, "+")+"]")
	}
	if op.Enabled != nil {
		parts = append(parts, fmt.Sprintf("%t", *op.Enabled))
	}
	if op.Entry != 0 {
		parts = append(parts, fmt.Sprintf("(boot entry %d)", op.Entry))
	}
	return strings.Join(parts, " ")
}

func describeEntry(e isomaker.BootEntry, ops []isomaker.Operation) string {
	img := "?"
	if e.ImageOp >= 0 && e.ImageOp < len(ops) {
		op := ops[e.ImageOp]
		img = op.Path
		if len(op.Names) > 0 {
			img = op.Names[0]
		}
	}
	s := fmt.Sprintf("%s, %s, load segment 0x%04x, %d sectors", img, e.Media, e.LoadSegment, e.SectorCount)
	if !e.Bootable {
		s += ", not bootable"
	}
	if e.BootInfoTable {
		s += ", boot info table"
	}
	return s
}

// shellQuote shows an argument unambiguously: as is when it is plain, else in
// single quotes the way a Bourne VISO would write it.
func shellQuote(s string) string {
	return argv.QuoteBourne(s)
}
