package audit

// The tests in package audit_test run real nodes (audittest, which imports
// packages that import this one); they damage ledger files with the same
// helpers as the tests here.
var (
	TamperFile   = tamper
	RawEntry     = rawEntry
	GetEntry     = getEntry
	EditEntry    = editEntry
	PutBlob      = putBlob
	BlobKey      = blobKey
	RebuildTree  = rebuildTree
	FlipTreeNode = flipTreeNode
	Truncate     = truncate
	CopyFile     = copyFile
	OpenRO       = openRO
	Be64         = be64
	SumOf        = sumOf

	BucketEntries = bucketEntries
	BucketBlobs   = bucketBlobs
)
