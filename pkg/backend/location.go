package backend

import "path/filepath"

// ComposeLocation is the generic file-based "compose location": the image file
// name inside a folder.
func ComposeLocation(dir, name string) string {
	return filepath.Join(dir, name)
}

// ComposeName is the generic file-based "compose name": the display name of a
// file-based image is its file name without the folder.
func ComposeName(path string) string {
	return filepath.Base(path)
}
