"""Text: tokenizers and vocabularies, decoding (greedy, sampling, beam search), word2vec, corpora.

>>> from neurona import text
>>> words, labels, languages = text.words_sample()          # language identification of single words
>>> vocab = text.Vocab.build(words)                          # characters as tokens
>>> ids, lengths = text.pad_sequences([vocab.encode(w) for w in words])
"""
from . import augment
from .datasets import (WORD_LISTS, fortune_categories, fortunes_sample, load_fortunes, load_word_lists,
                       read_fortunes, read_word_list, stratified_split, words_sample)
from .decoding import beam_search, greedy_decode, sample_decode, select_state
from .language_model import perplexity
from .vocab import (BOS, EOS, PAD, UNK, BucketLoader, Vocab, batchify, char_tokenize, pad_sequences,
                    word_tokenize)
from .word2vec import CBOW, SkipGram, Word2Vec, cosine_similarity, most_similar
from .numbers import NumberTranslation, number_to_spanish, number_translation_data, spanish_to_number
from .seq2seq import exact_match, train_number_translation, train_seq2seq, translate
from .language_model import fortune_corpus, train_language_model

__all__ = ["Vocab", "BucketLoader", "char_tokenize", "word_tokenize", "pad_sequences", "batchify", "PAD", "UNK", "BOS",
           "EOS",
           "greedy_decode", "sample_decode", "beam_search", "select_state",
           "Word2Vec", "SkipGram", "CBOW", "cosine_similarity", "most_similar",
           "WORD_LISTS", "read_word_list", "load_word_lists", "words_sample", "read_fortunes", "load_fortunes",
           "fortunes_sample", "fortune_categories", "stratified_split", "augment", "perplexity",
           "number_to_spanish", "spanish_to_number", "number_translation_data", "NumberTranslation",
           "train_seq2seq", "translate", "exact_match", "train_number_translation", "fortune_corpus",
           "train_language_model"]
