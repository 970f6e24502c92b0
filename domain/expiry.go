package domain

// Expired reports whether a document with expiry expiresAt (Unix
// milliseconds, 0: never) has expired at nowMs. The instant of expiry
// itself counts as expired, so a document is never visible at its expiry.
func Expired(expiresAt, nowMs int64) bool {
	return expiresAt != 0 && expiresAt <= nowMs
}

// ValidateExpiry checks the expiry of an entry or document from a peer:
// 0 (never) or a positive Unix-millisecond instant. A past one is not an
// error there: the document simply reads as absent.
func ValidateExpiry(expiresAt int64) error {
	if expiresAt < 0 {
		return Errorf(CodeInvalidArgument, "domain.ValidateExpiry", "expires_at must be a positive Unix millisecond time or 0, got %d", expiresAt)
	}
	return nil
}

// ValidateLocalExpiry checks the expiry a local write asks for: 0 (never)
// or an instant after nowMs, since writing a document that is already
// expired is surely a mistake (a clock or unit error) the writer should hear of.
func ValidateLocalExpiry(expiresAt, nowMs int64) error {
	if err := ValidateExpiry(expiresAt); err != nil {
		return err
	}
	if expiresAt != 0 && expiresAt <= nowMs {
		return Errorf(CodeInvalidArgument, "domain.ValidateLocalExpiry", "expiry %d (Unix ms) is not in the future (now %d)", expiresAt, nowMs)
	}
	return nil
}
