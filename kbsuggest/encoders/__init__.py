"""Encoders: the small protocol every embedding model sits behind, and the ones kbsuggest ships."""

from kbsuggest.encoders.base import Encoder, PooledOnly, TokenEncoder
from kbsuggest.encoders.hashing import HashingEncoder
from kbsuggest.encoders.sentence_transformers import SentenceTransformerEncoder
from kbsuggest.encoders.use import UseEncoder

__all__ = ["Encoder", "HashingEncoder", "PooledOnly", "SentenceTransformerEncoder", "TokenEncoder", "UseEncoder"]
