"""English ascending auctions (拍卖/竞价) of achievements: deposits, bids, live stream, closing, awards."""
