"""reports/formats"""
