"""FTHNet (Gong et al.): fundus quality score by a transformer hypernetwork - network, dataset, recipe, assessor."""
