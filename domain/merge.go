package domain

// RecursiveMerge merges JSON objects field by field. See Resolve for the
// exact rules. TODO(issue 2): implemented by the domain helper.
type RecursiveMerge struct{}

// Name implements Resolver.
func (RecursiveMerge) Name() string { return "merge" }

// Resolve implements Resolver.
func (RecursiveMerge) Resolve(current *Document, incoming *Entry) (Document, Outcome) {
	return LastWriteWins{}.Resolve(current, incoming)
}
