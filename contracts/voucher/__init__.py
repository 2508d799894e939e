"""科技创新券 (innovation vouchers): rules, the voucher ledger, spends, redemptions, and policy reports."""
