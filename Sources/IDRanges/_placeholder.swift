// IDRanges
