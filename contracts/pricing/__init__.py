"""Pricing modes (协议定价 / 挂牌 / 拍卖), agreed-price notices with objections, deal notices and certificates."""
