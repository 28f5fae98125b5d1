"""Model: the attention LSTM encoder-decoder and what is defined on its parameters.

``config`` (ModelConfig), ``init`` (initialisation schemes), ``layers``,
``attention``, ``encoder``, ``decoder``, ``seq2seq`` (the whole model, its
loss), ``loss`` (fast softmax cross-entropy), ``classes`` (See et al.'s weight
classes), ``masks`` (``{parameter name: bool}``, applied in place).
"""
