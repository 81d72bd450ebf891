//go:build !linux

package source

import (
	"errors"
	"os"
)

var errNoExchange = errors.New("atomic exchange not supported on this platform")

// exchange is unavailable off Linux; replace falls back to two renames.
func exchange(*os.Root, string, string) error { return errNoExchange }

func exchangeUnsupported(err error) bool { return errors.Is(err, errNoExchange) }
