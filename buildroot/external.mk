include $(sort $(wildcard $(BR2_EXTERNAL_LVSFW_PATH)/package/*/*.mk))
