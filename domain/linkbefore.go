package domain

// LinkBefore is the link an entry whose PrevHash is prevHash chains from:
// GenesisLink when it starts its author's chain, prevLink (the link of the
// entry named by prevHash) when that is known, else BoundaryLink(prevHash).
// Stores compute links with it and servers derive a run's LinkBefore with
// it, so both pick the same of the three.
func LinkBefore(prevHash string, prevLink []byte) []byte {
	switch {
	case prevHash == "":
		return GenesisLink
	case prevLink != nil:
		return prevLink
	}
	return BoundaryLink(prevHash)
}
